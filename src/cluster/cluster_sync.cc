// ClusterState's background work: lease renewal, the probe while Redis is unavailable,
// joining (or rebuilding) the shared state, and the cluster-wide spend totals.
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "budget/budget_window.h"
#include "cluster/cluster_state.h"
#include "cluster/scripts.h"
#include "common/log.h"

namespace signalbox::cluster {
namespace {

constexpr std::chrono::milliseconds kProbeInterval{250};

std::string NewId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

}  // namespace

std::string LoadReplicaId(const std::string& path) {
  {
    std::ifstream in(path);
    std::string id;
    if (in && std::getline(in, id) && !id.empty() && id.find('|') == std::string::npos) return id;
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string id = fmt::format("{}-{}", host[0] ? host : "replica", NewId().substr(0, 8));
  for (char& c : id) {
    if (c == '|' || c == ' ') c = '_';
  }
  std::ofstream out(path, std::ios::trunc);
  if (out) out << id << "\n";
  return id;
}

// Sync, the one way back to "up" (at start, after an outage, after Redis lost its data):
//   1. under the lock, take this replica's window totals and what waits to be pushed;
//   2. the sync script creates the generation if Redis has none (empty: a new one) and
//      adds the totals if this replica has not contributed to that generation yet: that
//      is the rebuild — every replica adds its own ledger's totals once;
//   3. if it had contributed already (same generation: Redis kept its data), push the
//      spend settled while Redis was unreachable and free the slots whose settle failed.
// Anything that fails goes back to the pending lists for the next try.
bool ClusterState::Sync() {
  std::map<std::string, std::pair<int64_t, int64_t>> totals, pending;
  std::vector<std::pair<std::string, std::string>> releases;
  int64_t day, month;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RollLocked(NowMs());
    totals = totals_;
    pending.swap(pending_);
    releases.swap(pending_release_);
    day = day_;
    month = month_;
  }
  auto restore = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    if (day == day_ && month == month_) {
      for (const auto& [n, v] : pending) {
        pending_[n].first += v.first;
        pending_[n].second += v.second;
      }
    }
    pending_release_.insert(pending_release_.end(), releases.begin(), releases.end());
  };
  std::vector<std::string> args = {opt_.prefix, NewId(), opt_.replica_id, std::to_string(day),
                                   std::to_string(month)};
  for (const auto& [name, t] : totals) {
    if (t.first == 0 && t.second == 0) continue;
    args.push_back(name.substr(0, 1));
    args.push_back(name.substr(2));
    args.push_back(std::to_string(t.first));
    args.push_back(std::to_string(t.second));
  }
  auto r = redis_.Eval(SyncScript(), args);
  if (!r.ok() || r->is_error() || r->elements.size() < 2) {
    restore();
    return false;
  }
  const std::string gen = r->elements[0].str;
  const bool contributed = r->elements[1].AsInt() == 1;
  if (contributed) {
    Log(LogLevel::kInfo, "cluster: added this replica's ledger totals to the shared state")
        .Field("generation", gen);
  } else if (!pending.empty() || !releases.empty()) {
    std::vector<std::string> push = {opt_.prefix, gen};
    for (const auto& [name, v] : pending) {
      push.insert(push.end(),
                  {name.substr(0, 1), name.substr(2), std::to_string(day), std::to_string(month),
                   std::to_string(v.first), std::to_string(v.second)});
    }
    for (const auto& [key, ticket] : releases) {
      push.insert(push.end(), {"r", key, ticket, "", "", ""});
    }
    auto p = redis_.Eval(PushScript(), push);
    if (!p.ok() || p->is_error() || p->AsInt() != 1) {
      restore();
      return false;
    }
  }
  auto hb = redis_.Eval(HeartbeatScript(),
                        {opt_.prefix, incarnation_, std::to_string(opt_.lease.count())});
  if (!hb.ok() || hb->is_error() || hb->str != gen) return false;  // nothing lost: retried
  {
    std::lock_guard<std::mutex> lock(mu_);
    gen_ = gen;
  }
  if (!up_.exchange(true)) {
    Log(LogLevel::kInfo, "cluster: Redis answers; shared state in use").Field("generation", gen);
  }
  return true;
}

void ClusterState::Run() {
  const auto renew = std::min<std::chrono::milliseconds>(opt_.lease / 3, std::chrono::seconds(5));
  std::unique_lock<std::mutex> lock(wake_mu_);
  while (!stop_) {
    wake_.wait_for(lock, up() ? renew : kProbeInterval);
    if (stop_) break;
    lock.unlock();
    if (!up()) {
      Sync();
    } else {
      std::string gen;
      {
        std::lock_guard<std::mutex> l(mu_);
        gen = gen_;
      }
      auto hb = redis_.Eval(HeartbeatScript(),
                            {opt_.prefix, incarnation_, std::to_string(opt_.lease.count())});
      if (!hb.ok()) {
        MarkDown(hb.status());
      } else if (hb->is_error() || hb->str != gen) {
        MarkDown(Unavailable("Redis lost the shared state (a new generation): rebuilding"));
      }
    }
    lock.lock();
  }
}

StatusOr<budget::WindowSums> ClusterState::Totals() const {
  const int64_t now = NowMs();
  const std::string day = std::to_string(budget::DayIndex(now));
  const std::string month = std::to_string(budget::MonthIndex(now));
  auto sets = redis_.Pipeline({{"SMEMBERS", opt_.prefix + "keys:" + month},
                               {"SMEMBERS", opt_.prefix + "backends:" + month}});
  if (!sets.ok()) return sets.status();
  std::vector<std::vector<std::string>> gets;
  std::vector<std::pair<bool, std::string>> names;  // (is key, name)
  for (int i = 0; i < 2; ++i) {
    for (const auto& v : (*sets)[i].elements) {
      const std::string base = opt_.prefix + (i == 0 ? "k:" : "b:") + v.str;
      gets.push_back({"GET", base + ":d:" + day});
      gets.push_back({"GET", base + ":m:" + month});
      names.emplace_back(i == 0, v.str);
    }
  }
  budget::WindowSums sums;
  sums.day = budget::DayLabel(now);
  sums.month = budget::MonthLabel(now);
  if (gets.empty()) return sums;
  auto vals = redis_.Pipeline(gets);
  if (!vals.ok()) return vals.status();
  for (size_t i = 0; i < names.size(); ++i) {
    budget::WindowTotals t;
    t.day_nano_usd = (*vals)[2 * i].AsInt();
    t.month_nano_usd = (*vals)[2 * i + 1].AsInt();
    (names[i].first ? sums.keys : sums.backends)[names[i].second] = t;
  }
  return sums;
}

}  // namespace signalbox::cluster
