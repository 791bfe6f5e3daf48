// Reads a Markdown table from a document of the repository, so a test can check the code
// against the table row by row (the document is the contract).
#pragma once

#include <fstream>
#include <string>
#include <vector>

namespace signalbox::testing {

// The cells of one table line "| a | `b|c` | d |" (a '|' inside backticks is text).
inline std::vector<std::string> TableCells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool in_code = false;
  for (size_t i = 1; i < line.size(); ++i) {
    char c = line[i];
    if (c == '`') in_code = !in_code;
    if (c == '|' && !in_code) {
      size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += c;
    }
  }
  return cells;
}

// The rows of the first table in `doc` (a path under the source tree) whose header line
// starts with `header`; empty when the file or the table is missing.
inline std::vector<std::vector<std::string>> DocTableRows(const std::string& doc,
                                                          const std::string& header) {
  std::ifstream in(std::string(SIGNALBOX_SOURCE_DIR) + "/" + doc);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (!in_table) {
      in_table = line.rfind(header, 0) == 0;
      continue;
    }
    if (line.rfind("|", 0) != 0) break;
    if (line.rfind("|---", 0) == 0) continue;
    rows.push_back(TableCells(line));
  }
  return rows;
}

// A backticked cell's text: "`abc`" -> "abc".
inline std::string Unquote(const std::string& cell) {
  if (cell.size() >= 2 && cell.front() == '`' && cell.back() == '`')
    return cell.substr(1, cell.size() - 2);
  return cell;
}

}  // namespace signalbox::testing
