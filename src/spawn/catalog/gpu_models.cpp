#include "catalog/gpu_models.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "util/strings.hpp"

namespace spawn::catalog {

namespace {

// Words that name a vendor, a brand or a board form factor, not the GPU: "Tesla_V100-SXM2" is a V100.
constexpr std::array<std::string_view, 17> k_noise_words = {
    "nvidia", "tesla", "geforce", "quadro", "sxm",  "sxm2", "sxm3", "sxm4", "sxm5",
    "pcie",   "nvl",   "nvlink",  "gpu",    "amd",  "instinct", "habana", "aws"};

struct Equivalent {
  std::string_view key;                       // gpu_model_key of the site name
  std::vector<std::string_view> aws_models;   // every AWS model that satisfies it, best fit first
};

// Site names with an AWS equivalent. A request for a model is met by that model or a strictly larger sibling of
// the same chip (a100 -> A100 40 GB or A100 80 GB; v100 -> 16 or 32 GB; h100 -> H100 or H200; t4 -> T4 or the
// Graviton-hosted T4g, which is the same GPU and is chosen only when arm64 is allowed).
const std::vector<Equivalent>& equivalents() {
  static const std::vector<Equivalent> table = {
      {"t4", {"T4", "T4g"}},
      {"t4g", {"T4g"}},
      {"a10", {"A10G"}},  // AWS's A10G is the A10 with a different memory clock
      {"a10g", {"A10G"}},
      {"a10g24gb", {"A10G"}},
      {"l4", {"L4"}},
      {"l424gb", {"L4"}},
      {"l40s", {"L40S"}},
      {"l40s48gb", {"L40S"}},
      {"v100", {"V100", "V100-32GB"}},
      {"v10016gb", {"V100", "V100-32GB"}},
      {"v10016", {"V100", "V100-32GB"}},
      {"v10032gb", {"V100-32GB"}},
      {"v10032", {"V100-32GB"}},
      {"v100s", {"V100-32GB"}},  // the PCIe V100S: same GV100 chip and 32 GB as p3dn's V100
      {"v100s32gb", {"V100-32GB"}},
      {"a100", {"A100", "A100-80GB"}},
      {"a10040gb", {"A100", "A100-80GB"}},
      {"a10040", {"A100", "A100-80GB"}},
      {"a10080gb", {"A100-80GB"}},
      {"a10080", {"A100-80GB"}},
      {"h100", {"H100", "H200"}},
      {"h10080gb", {"H100", "H200"}},
      {"h200", {"H200"}},
      {"h200141gb", {"H200"}},
      {"v520", {"Radeon Pro V520"}},
      {"inferentia", {"Inferentia"}},
      {"inf1", {"Inferentia"}},
      {"inferentia2", {"Inferentia2"}},
      {"inf2", {"Inferentia2"}},
      {"trainium", {"Trainium"}},
      {"trn1", {"Trainium"}},
      {"trainium2", {"Trainium2"}},
      {"trn2", {"Trainium2"}},
      {"gaudi", {"Gaudi HL-205"}},
      {"hl205", {"Gaudi HL-205"}},
      {"ai100", {"Qualcomm AI100"}},
      {"fpga", {"Virtex UltraScale (VU9P)", "Virtex UltraScale+ (VU47P)"}},
      {"vu9p", {"Virtex UltraScale (VU9P)"}},
      {"vu47p", {"Virtex UltraScale+ (VU47P)"}},
      {"u30", {"Xilinx U30"}},
  };
  return table;
}

struct Retired {
  std::string_view key;
  std::string_view what;       // shown in parentheses
  std::string_view successor;  // an AWS model
};

// Site names with no AWS equivalent, and the AWS model nearest to them by generation and memory: old datacenter
// GPUs go to their AWS successor (K80 -> T4, P100 -> V100), 24 GB workstation cards to A10G, 48 GB ones to L40S,
// AMD Instinct to the NVIDIA part of the same class (ROCm code needs porting either way).
const std::vector<Retired>& retired() {
  static const std::vector<Retired> table = {
      {"k80", "NVIDIA K80, retired from AWS with p2", "T4"},
      {"k40", "NVIDIA K40", "T4"},
      {"k20", "NVIDIA K20", "T4"},
      {"k20x", "NVIDIA K20X", "T4"},
      {"k520", "NVIDIA GRID K520, retired from AWS with g2", "T4"},
      {"m60", "NVIDIA M60, previous-generation g3", "T4"},
      {"m40", "NVIDIA M40", "T4"},
      {"p4", "NVIDIA P4", "T4"},
      {"p40", "NVIDIA P40", "V100"},
      {"p100", "NVIDIA P100", "V100"},
      {"titanx", "NVIDIA Titan X", "T4"},
      {"titanxp", "NVIDIA Titan Xp", "T4"},
      {"gtx1080", "NVIDIA GTX 1080", "T4"},
      {"gtx1080ti", "NVIDIA GTX 1080 Ti", "T4"},
      {"1080ti", "NVIDIA GTX 1080 Ti", "T4"},
      {"rtx2080", "NVIDIA RTX 2080", "T4"},
      {"rtx2080ti", "NVIDIA RTX 2080 Ti", "T4"},
      {"2080ti", "NVIDIA RTX 2080 Ti", "T4"},
      {"titanrtx", "NVIDIA Titan RTX, 24 GB", "A10G"},
      {"titanv", "NVIDIA Titan V", "V100"},
      {"rtx6000", "NVIDIA Quadro RTX 6000, 24 GB", "A10G"},
      {"rtx8000", "NVIDIA Quadro RTX 8000, 48 GB", "L40S"},
      {"rtxa6000", "NVIDIA RTX A6000, 48 GB", "L40S"},
      {"a6000", "NVIDIA RTX A6000, 48 GB", "L40S"},
      {"rtxa5000", "NVIDIA RTX A5000, 24 GB", "A10G"},
      {"a5000", "NVIDIA RTX A5000, 24 GB", "A10G"},
      {"rtxa4000", "NVIDIA RTX A4000, 16 GB", "A10G"},
      {"a4000", "NVIDIA RTX A4000, 16 GB", "A10G"},
      {"rtx3090", "NVIDIA RTX 3090, 24 GB", "A10G"},
      {"3090", "NVIDIA RTX 3090, 24 GB", "A10G"},
      {"rtx4090", "NVIDIA RTX 4090, 24 GB", "L40S"},
      {"4090", "NVIDIA RTX 4090, 24 GB", "L40S"},
      {"a40", "NVIDIA A40, 48 GB", "L40S"},
      {"l40", "NVIDIA L40, 48 GB", "L40S"},
      {"a2", "NVIDIA A2, 16 GB", "L4"},
      {"a30", "NVIDIA A30, 24 GB", "A100"},
      {"a800", "NVIDIA A800", "A100-80GB"},
      {"h800", "NVIDIA H800", "H100"},
      {"gh200", "NVIDIA GH200", "H200"},
      {"b100", "NVIDIA B100, not in this catalog", "H200"},
      {"b200", "NVIDIA B200, not in this catalog", "H200"},
      {"gb200", "NVIDIA GB200, not in this catalog", "H200"},
      {"mi50", "AMD Instinct MI50", "A100"},
      {"mi60", "AMD Instinct MI60", "A100"},
      {"mi100", "AMD Instinct MI100", "A100"},
      {"mi210", "AMD Instinct MI210", "A100-80GB"},
      {"mi250", "AMD Instinct MI250", "A100-80GB"},
      {"mi250x", "AMD Instinct MI250X", "A100-80GB"},
      {"mi300x", "AMD Instinct MI300X", "H200"},
      {"mi300a", "AMD Instinct MI300A", "H200"},
  };
  return table;
}

bool is_separator(char c) {
  return c == '_' || c == '-' || c == ' ' || c == '.' || c == '(' || c == ')' || c == '+' || c == '/' || c == ':';
}

// "80g", "80gib" and "80gb" are all "80gb".
std::string normalize_word(std::string word) {
  std::size_t digits = 0;
  while (digits < word.size() && word[digits] >= '0' && word[digits] <= '9') ++digits;
  if (digits > 0) {
    std::string_view unit = std::string_view(word).substr(digits);
    if (unit == "g" || unit == "gib" || unit == "gb") return word.substr(0, digits) + "gb";
  }
  return word;
}

// The catalog models whose key is key.
std::vector<std::string> catalog_models_with_key(const Catalog& catalog, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& model : catalog.accelerator_models()) {
    if (gpu_model_key(model) == key) out.push_back(model);
  }
  return out;
}

const Equivalent* find_equivalent(std::string_view key) {
  for (const auto& e : equivalents()) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

// AWS models for a key from the built-in table, then from the catalog's own names; empty when neither knows it.
std::vector<std::string> aws_models_for(std::string_view key, const Catalog& catalog) {
  if (const Equivalent* e = find_equivalent(key)) return {e->aws_models.begin(), e->aws_models.end()};
  return catalog_models_with_key(catalog, key);
}

std::string families_with(const Catalog& catalog, std::string_view model) {
  std::set<std::string> families;
  for (const auto& t : catalog.types()) {
    if (t.accelerator_model == model) families.insert(t.family);
  }
  return util::join({families.begin(), families.end()}, ", ");
}

std::string known_models(const Catalog& catalog) { return util::join(catalog.accelerator_models(), ", "); }

} // namespace

std::string gpu_model_key(std::string_view name) {
  std::string key;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    if (std::find(k_noise_words.begin(), k_noise_words.end(), word) == k_noise_words.end()) key += normalize_word(word);
    word.clear();
  };
  for (char c : name) {
    if (is_separator(c)) flush();
    else word += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  flush();
  return key;
}

Expected<std::vector<std::string>> resolve_gpu_model(std::string_view site_name, const GpuAliases& aliases,
                                                     const Catalog& catalog) {
  std::string key = gpu_model_key(site_name);
  if (key.empty()) return Unexpected("empty GPU model name " + util::quote(site_name));

  for (const auto& [alias, target] : aliases) {
    if (gpu_model_key(alias) != key) continue;
    auto models = aws_models_for(gpu_model_key(target), catalog);
    if (models.empty()) {
      return Unexpected("GPU alias " + util::quote(alias) + " -> " + util::quote(target) + ": " + util::quote(target) +
                        " is not an AWS accelerator (AWS has: " + known_models(catalog) + ")");
    }
    return models;
  }
  if (auto models = aws_models_for(key, catalog); !models.empty()) return models;
  for (const auto& r : retired()) {
    if (r.key != key) continue;
    std::string families = families_with(catalog, r.successor);
    return Unexpected("GPU model " + util::quote(site_name) + " has no AWS equivalent (" + std::string(r.what) +
                      "); nearest successor: " + std::string(r.successor) +
                      (families.empty() ? std::string() : " (" + families + ")"));
  }
  return Unexpected("unknown GPU model " + util::quote(site_name) + " (AWS has: " + known_models(catalog) +
                    "; map a site name to one of them with a GPU alias in the config)");
}

} // namespace spawn::catalog
