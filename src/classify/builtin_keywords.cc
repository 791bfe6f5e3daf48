#include "classify/builtin_keywords.h"

// The word lists are packed by hand, several to a line.
// clang-format off
namespace signalbox::classify {
namespace {

using SV = std::string_view;

// --- code ---------------------------------------------------------------------------
// Unambiguous programming tokens and error names.
constexpr SV kCodeStrong[] = {
    "def", "elif", "nullptr", "printf", "println", "stdout", "stderr", "stdin", "argv",
    "malloc", "typename", "constexpr", "boolean", "async", "await", "lambda", "regex",
    "json", "api", "apis", "endpoint", "sql", "html", "css", "javascript", "typescript",
    "python", "golang", "kotlin", "cpp", "php", "bash", "dockerfile", "docker", "kubernetes",
    "k8s", "git", "github", "npm", "cmake", "makefile", "compiler", "codebase", "refactor",
    "refactoring", "unit test", "unit tests", "stack overflow", "linked list", "binary tree",
    "hash map", "hashmap", "hash table", "recursion", "recursive", "mutex", "deadlock",
    "http", "https", "frontend", "backend", "django", "flask", "pandas", "numpy", "sdk",
    "yaml", "pull request", "merge conflict", "segfault", "source code", "programming",
    "subroutine", "localhost", "webpack", "postgres", "postgresql", "mysql", "sqlite",
    "linux", "nginx", "std", "atomic", "concurrency", "race condition", "thread safe",
    "lock free", "memory order", "edge cases", "test cases", "error handling", "latency",
    "throughput", "scalability", "distributed system", "distributed systems",
    "microservice", "microservices", "load balancer", "sharding", "replication",
    "api gateway", "rate limiter", "cache invalidation", "big o", "time complexity",
};
// Words that name programming things but also have everyday meanings.
constexpr SV kCodeAmbiguous[] = {
    "function", "functions", "method", "methods", "variable", "variables", "array",
    "arrays", "query", "database", "script", "algorithm", "implement", "implementation",
    "debug", "debugging", "compile", "compiles", "runtime", "bug", "bugs", "pointer",
    "iterator", "thread", "threads", "interface", "struct", "enum", "config", "deploy",
    "cli", "code", "software", "repository", "repo", "java", "rust", "ruby",
    "shell", "library", "const", "void", "int", "null", "str", "dict", "bool", "parse",
    "parser", "parses", "parsing", "panic", "panics", "tests", "index", "indexes", "cache",
    "caching", "partitioning", "server", "client", "web app", "app",
};
// Error names and stack-trace phrases.
constexpr SV kStackTrace[] = {
    "traceback most recent call last", "exception in thread", "stack trace", "stacktrace",
    "segmentation fault", "core dumped", "panicked at", "undefined reference",
    "nullpointerexception", "typeerror", "valueerror", "keyerror", "syntaxerror",
    "referenceerror", "indexerror", "attributeerror", "modulenotfounderror", "importerror",
    "runtimeerror", "assertionerror", "unhandled exception", "compilation error",
    "compile error", "build failed", "exit code",
};
constexpr SV kFileExt[] = {
    "py", "js", "ts", "tsx", "jsx", "cc", "cpp", "cxx", "hpp", "hh", "go", "rs", "java", "kt",
    "rb", "php", "cs", "swift", "sh", "sql", "json", "yaml", "yml", "toml", "ipynb", "vue",
    "scala", "lua", "html", "css", "scss", "proto", "tf", "gradle",
};

// --- math ---------------------------------------------------------------------------
constexpr SV kMathStrong[] = {
    "equation", "equations", "integral", "integrate", "derivative", "differentiate",
    "polynomial", "eigenvalue", "eigenvalues", "eigenvector", "matrix", "matrices",
    "determinant", "theorem", "lemma", "corollary", "logarithm", "exponential",
    "quadratic", "linear algebra", "calculus", "probability", "expected value", "variance",
    "standard deviation", "combinatorics", "permutations", "combinations", "modulo",
    "prime", "primes", "factorial", "divisible", "integer", "integers", "sqrt", "sin", "cos",
    "tan", "log", "vector", "vectors", "convergence", "converge", "series", "sequence",
    "inequality", "optimization", "geometry", "triangle", "hypotenuse", "radius",
    "circumference", "perimeter", "area of", "volume of", "isomorphic", "homomorphism",
    "subgroup", "field extension", "algebra", "arithmetic",
};
constexpr SV kMathWeak[] = {
    "calculate", "compute", "solve", "formula", "decimal", "fraction", "fractions", "digits",
    "numerically", "arithmetic mean",
};
// Words that relate one quantity to another: the operations of a word problem.
constexpr SV kQuantity[] = {
    "twice", "thrice", "half", "halves", "triple", "quarter", "third of", "percent",
    "percentage", "ratio", "proportion", "proportional", "average", "median", "total",
    "remaining", "remainder", "difference", "combined", "altogether", "times as",
    "times more", "as many", "as much", "left over",
};

// --- reasoning ----------------------------------------------------------------------
// Asks for a proof: the hardest kind of reasoning request, counted double.
constexpr SV kProofAsk[] = {
    "prove", "proof", "derive", "derivation", "show that", "rigorous", "rigorously",
};
constexpr SV kReasonAsk[] = {
    "why", "explain", "explanation", "justify",
    "analyze", "analyse", "analysis", "evaluate", "assess", "compare", "contrast",
    "trade off", "trade offs", "tradeoff", "tradeoffs", "pros and cons", "implications",
    "step by step", "reasoning", "argue", "critique", "design", "architecture", "optimize",
    "optimise", "strategy", "hypothesis", "infer", "deduce", "conclude",
    "what would happen", "what if", "think through", "walk me through", "root cause",
    "investigate", "diagnose", "debate", "validity", "logically", "consequence",
    "consequences", "counterargument", "counterarguments",
};
// Logical and causal connectives: a text that reasons in chains uses them.
constexpr SV kConnective[] = {
    "if", "unless", "whether", "because", "therefore", "thus", "hence", "however",
    "although", "though", "otherwise", "suppose", "assume", "assuming", "implies",
    "consequently", "despite", "cause", "causes", "caused", "effect", "effects", "affect",
    "affects", "increase", "increases", "increased", "decrease", "decreases", "decreased",
    "reduce", "reduces", "reduced", "result", "results", "resulting", "leads to",
    "lead to", "impact", "depends", "depend on", "due to", "only if", "if and only if",
    "necessary", "sufficient", "shift", "shifts",
};
constexpr SV kComparative[] = {
    "than", "fewer", "greater", "larger", "smaller", "higher", "lower", "more", "less",
    "most", "least", "better", "worse", "compared", "relative to",
};

// --- multi-step ---------------------------------------------------------------------
constexpr SV kSequence[] = {
    "first", "second", "third", "fourth", "fifth", "then", "next", "after", "afterwards",
    "afterward", "before", "later", "finally", "subsequently", "meanwhile", "eventually",
    "previously", "initially", "until", "rest", "step", "steps", "stage", "stages",
    "phase", "followed by", "after that", "and then", "once", "each time", "in turn",
};

// --- constraints --------------------------------------------------------------------
constexpr SV kConstraint[] = {
    "exactly", "at most", "no more than", "no less than", "no longer than", "without using",
    "do not use", "don't use", "must be", "must not", "must include", "must use",
    "make sure", "ensure that", "strictly", "only output", "only return", "respond only",
    "reply only", "output only", "json", "in json", "as json", "valid json", "json format",
    "yaml", "csv", "xml", "markdown", "as a table", "in a table", "table format", "bullet",
    "bullets", "bullet points", "numbered list", "word limit", "words or less",
    "words or fewer", "sentences or less", "characters or less", "in the style of", "tone",
    "concise", "format", "formatted", "schema", "requirements", "constraints",
    "follow these", "the following rules",
};

// --- long output --------------------------------------------------------------------
constexpr SV kLongOutput[] = {
    "essay", "article", "report", "story", "chapter", "blog post", "detailed", "in detail",
    "comprehensive", "thorough", "thoroughly", "in depth", "exhaustive", "elaborate",
    "tutorial", "whitepaper", "full implementation", "complete implementation", "lengthy",
    "proposal", "documentation", "step by step guide", "words long", "pages",
};

// --- simple -------------------------------------------------------------------------
constexpr SV kSimple[] = {
    "define", "definition", "meaning of", "synonym", "synonyms", "antonym", "spell",
    "spelling", "translate", "translation", "how do you say", "in french", "in spanish",
    "in german", "in english", "in italian", "in japanese", "in chinese", "capital of",
    "what time", "what day", "what year", "who is", "who was", "who wrote", "stand for",
    "abbreviation", "acronym", "fix the typo", "fix grammar", "rephrase", "paraphrase",
    "tell me a joke", "a joke", "weather",
};
constexpr SV kGreeting[] = {
    "hi", "hello", "hey", "thanks", "thank you", "thx", "good morning", "good afternoon",
    "good evening", "good night", "bye", "goodbye", "ok", "okay", "cool", "great", "nice",
    "awesome", "yes", "sure", "lol", "got it", "sounds good", "perfect",
};
constexpr SV kLookupStart[] = {
    "what", "who", "where", "when", "which", "whats", "what's", "define", "name",
};

}  // namespace

const std::vector<KeywordGroup>& BuiltinKeywordGroups() {
  static const std::vector<KeywordGroup> groups = {
      {kKwCode, 1.0f, kCodeStrong},      {kKwCode, 0.4f, kCodeAmbiguous},
      {kKwCode, 2.0f, kStackTrace},      {kKwFileExt, 1.5f, kFileExt},
      {kKwMath, 1.0f, kMathStrong},      {kKwMath, 0.4f, kMathWeak},
      {kKwQuantity, 0.5f, kQuantity},    {kKwReasonAsk, 2.0f, kProofAsk},
      {kKwReasonAsk, 1.0f, kReasonAsk},
      {kKwConnective, 0.3f, kConnective}, {kKwComparative, 0.3f, kComparative},
      {kKwSequence, 0.4f, kSequence},    {kKwConstraint, 0.6f, kConstraint},
      {kKwLongOutput, 0.7f, kLongOutput}, {kKwSimple, 1.0f, kSimple},
      {kKwGreeting, 1.0f, kGreeting},    {kKwLookupStart, 1.0f, kLookupStart},
  };
  return groups;
}

}  // namespace signalbox::classify
// clang-format on
