#include "nn/weight_loader.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "kernels/native_linear.h"

namespace kyutai {

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool is_float(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

void expect_shape(const TensorInfo& info, const std::vector<int64_t>& shape) {
  if (info.shape != shape)
    fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "': expected shape ", shape_str(shape), ", got ",
         info.shape_string());
}

void expect_float(const TensorInfo& info) {
  if (!is_float(info.dtype))
    fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "': expected a float dtype (F32, BF16, F16), got ",
         dtype_name(info.dtype));
}

std::vector<float> to_f32(const TensorInfo& info, const uint8_t* bytes) {
  std::vector<float> out(info.numel());
  convert_to_f32(info.dtype, bytes, out.size(), out.data());
  return out;
}

struct RowSource {
  const uint8_t* bytes;
  DType dtype;
  int row_offset;
};

void read_rows(const void* src, int row, int count, int in, float* out) {
  auto s = static_cast<const RowSource*>(src);
  size_t elem = dtype_size(s->dtype);
  convert_to_f32(s->dtype, s->bytes + (size_t(s->row_offset) + row) * in * elem, size_t(count) * in, out);
}

}  // namespace

WeightFormat WeightLoader::target_format(DType source) const {
  if (options_.format) return *options_.format;
  return source == DType::BF16 ? WeightFormat::BF16 : WeightFormat::F32;
}

PackedMatrix WeightLoader::pack_float(const TensorInfo& info, const uint8_t* bytes, int row_offset, int out,
                                      int in) const {
  WeightFormat format = target_format(info.dtype);
  RowSource src{bytes, info.dtype, row_offset};
  if (format == WeightFormat::F32 && options_.use_xnnpack && xnnpack_available()) {
    // XNNPACK packs its own copy; keep only that (the panel data stays empty).
    std::vector<float> w(size_t(out) * in);
    read_rows(&src, 0, out, in, w.data());
    PackedMatrix m;
    m.out = out;
    m.in = in;
    m.in_padded = in;
    m.format = WeightFormat::F32;
    m.native = make_xnnpack_f32(out, in, w.data(), options_.threads);
    return m;
  }
  return pack_matrix(format, out, in, read_rows, &src, preferred_q4_layout(), options_.q4_search_steps, pool_);
}

WeightLoader::Entry& WeightLoader::declare(const std::string& name,
                                           std::function<void(const TensorInfo&, const uint8_t*)> load,
                                           const std::string& group, std::vector<int64_t> shape, Kind kind,
                                           const void* target, uint64_t max_bytes) {
  if (entries_.count(name)) fail(ErrorCode::Internal, "tensor '", name, "' declared twice");
  if (!shape.empty()) {
    max_bytes = 4;  // f32, the widest dtype a weight may come in
    for (int64_t d : shape) max_bytes *= uint64_t(d);
  }
  return entries_[name] = Entry{std::move(load), false, group, std::move(shape), kind, target, max_bytes};
}

std::vector<WeightLoader::TensorRef> WeightLoader::directory() const {
  std::vector<TensorRef> out;
  visit([&](const std::string& name, Kind kind, const void* target, const std::vector<int64_t>& shape) {
    out.push_back({name, kind, target, shape});
  });
  return out;
}

void WeightLoader::visit(
    const std::function<void(const std::string&, Kind, const void*, const std::vector<int64_t>&)>& fn) const {
  for (const auto& [name, e] : entries_)
    if (e.target) fn(name, e.kind, e.target, e.shape);
}

std::vector<WeightLoader::Expected> WeightLoader::expected() const {
  std::vector<Expected> out;
  for (const auto& [name, e] : entries_) {
    if (e.group == "optional" || (!e.group.empty() && name == e.group)) continue;
    out.push_back({name, e.shape, e.kind});
  }
  return out;
}

void WeightLoader::load_linear(const std::string& name, int out, int in, Linear* dst, const TensorInfo& info,
                               const uint8_t* bytes) {
  if (is_float(info.dtype)) {
    expect_shape(info, {out, in});
    dst->weight = pack_float(info, bytes, 0, out, in);
    return;
  }
  // Pre-quantized: needs the weight and its scale. A weight that comes first is placed in its
  // panels at once and waits for its scales there (no copy of its bytes).
  if (info.dtype != DType::I8 && info.dtype != DType::U8)
    fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "': dtype ", dtype_name(info.dtype),
         " is neither float nor a quantized weight (I8 = q8, U8 = q4)");
  WeightFormat format = info.dtype == DType::I8 ? WeightFormat::Q8 : WeightFormat::Q4;
  int blocks = (in + kQuantBlock - 1) / kQuantBlock;
  if (format == WeightFormat::Q8) expect_shape(info, {out, in});
  else expect_shape(info, {out, int64_t(blocks) * kQuantBlock / 2});
  auto scale = pending_scales_.find(name + ".weight_scale");
  if (scale == pending_scales_.end()) {
    pending_codes_[info.name] = pack_prequantized_codes(format, out, in, bytes, preferred_q4_layout(), pool_);
    return;
  }
  const TensorInfo& scale_info = pending_info_.at(scale->first);
  check_scale(format, out, in, scale_info);
  dst->weight = pack_prequantized(format, out, in, bytes, scale_info.dtype, scale->second.data(), preferred_q4_layout(),
                                  pool_);
  pending_info_.erase(scale->first);
  pending_scales_.erase(scale);
}

// q8 scales are fp16 values (Q8_0), stored as F16; q4's are Q4_K bytes (U8), or F32 in files
// of stored layouts 1 and 2 (packed_matrix.h).
void WeightLoader::check_scale(WeightFormat format, int out, int in, const TensorInfo& scale) {
  const int64_t columns = stored_scale_columns(format, scale.dtype, in);
  if (columns < 0)
    fail(ErrorCode::InvalidCheckpoint, "tensor '", scale.name, "': expected ",
         format == WeightFormat::Q8 ? "F16" : "U8 (Q4_K) or F32", ", got ", dtype_name(scale.dtype));
  expect_shape(scale, {out, columns});
}

void WeightLoader::load_scale(const std::string& name, int out, int in, Linear* dst, const TensorInfo& info,
                              const uint8_t* bytes) {
  // Its weight placed already: set the scales. Else keep them until the weight comes.
  auto codes = pending_codes_.find(name + ".weight");
  if (codes == pending_codes_.end()) {
    pending_scales_[info.name] = std::vector<uint8_t>(bytes, bytes + info.byte_size());
    pending_info_[info.name] = info;
    return;
  }
  check_scale(codes->second.format, out, in, info);
  set_prequantized_scales(codes->second, info.dtype, bytes, pool_);
  dst->weight = std::move(codes->second);
  pending_codes_.erase(codes);
}

void WeightLoader::linear(const std::string& name, int out, int in, Linear* dst, bool with_bias) {
  declare(
      name + ".weight",
      [=](const TensorInfo& info, const uint8_t* bytes) { load_linear(name, out, in, dst, info, bytes); }, "",
      {out, in}, Kind::Linear, dst);
  // The scale of a pre-quantized weight: optional (float checkpoints have none).
  declare(
      name + ".weight_scale",
      [=](const TensorInfo& info, const uint8_t* bytes) { load_scale(name, out, in, dst, info, bytes); }, "optional",
      {}, Kind::Vector, nullptr, 4ull * out * in);
  if (with_bias) vector(name + ".bias", {out}, &dst->bias);
}

void WeightLoader::linear_set(const std::string& concat_name, std::function<std::string(int)> split_name, int sets,
                              int out, int in, std::vector<Linear>* dst) {
  dst->resize(sets);
  declare(
      concat_name,
      [=](const TensorInfo& info, const uint8_t* bytes) {
        expect_float(info);
        expect_shape(info, {int64_t(sets) * out, in});
        for (int s = 0; s < sets; ++s) (*dst)[s].weight = pack_float(info, bytes, s * out, out, in);
      },
      concat_name);
  for (int s = 0; s < sets; ++s) {
    std::string name = split_name(s);
    Linear* target = &(*dst)[s];
    declare(
        name + ".weight",
        [=](const TensorInfo& info, const uint8_t* bytes) { load_linear(name, out, in, target, info, bytes); },
        concat_name, {out, in}, Kind::Linear, target);
    declare(
        name + ".weight_scale",
        [=](const TensorInfo& info, const uint8_t* bytes) { load_scale(name, out, in, target, info, bytes); },
        "optional", {}, Kind::Vector, nullptr, 4ull * out * in);
  }
}

void WeightLoader::vector(const std::string& name, std::vector<int64_t> shape, std::vector<float>* dst) {
  declare(
      name,
      [=](const TensorInfo& info, const uint8_t* bytes) {
        expect_float(info);
        expect_shape(info, shape);
        *dst = to_f32(info, bytes);
      },
      "", shape, Kind::Vector, dst);
}

void WeightLoader::norm(const std::string& prefix, NormKind kind, int dim, Norm* dst) {
  dst->kind = kind;
  dst->eps = norm_eps(kind);
  dst->dim = dim;
  if (is_rms(kind)) {
    vector(prefix + ".alpha", {1, 1, dim}, &dst->weight);
  } else {
    vector(prefix + ".weight", {dim}, &dst->weight);
    vector(prefix + ".bias", {dim}, &dst->bias);
  }
}

void WeightLoader::table(const std::string& name, int rows, int width, EmbeddingTable* dst) {
  declare(
      name,
      [=](const TensorInfo& info, const uint8_t* bytes) {
        expect_float(info);
        expect_shape(info, {rows, width});
        dst->rows = rows;
        dst->width = width;
        size_t n = size_t(rows) * width;
        // Tables are only gathered (one row per token), so their size costs memory, not time:
        // they keep the checkpoint's precision unless bf16 is asked for explicitly.
        bool want_f32 = info.dtype != DType::BF16 && !(options_.format && *options_.format == WeightFormat::BF16);
        dst->bf16 = !want_f32;
        if (dst->bf16) {
          dst->bf16_data.resize(n);
          if (info.dtype == DType::BF16) {
            std::memcpy(dst->bf16_data.data(), bytes, n * 2);
          } else {
            std::vector<float> tmp = to_f32(info, bytes);
            for (size_t i = 0; i < n; ++i) dst->bf16_data[i] = f32_to_bf16(tmp[i]);
          }
        } else {
          dst->f32_data.resize(n);
          convert_to_f32(info.dtype, bytes, n, dst->f32_data.data());
        }
      },
      "", {rows, width}, Kind::Table, dst);
}

void WeightLoader::ignore(const std::string& name) {
  declare(
      name, [](const TensorInfo&, const uint8_t*) {}, "optional")
      .needs_bytes = false;
}

const WeightLoader::Entry& WeightLoader::entry(const TensorInfo& info) const {
  auto it = entries_.find(info.name);
  if (it == entries_.end())
    fail(ErrorCode::InvalidCheckpoint, "unexpected tensor '", info.name, "' ", info.shape_string(),
         ": this configuration has no such weight");
  if (it->second.done) fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "' appears twice");
  return it->second;
}

bool WeightLoader::check(const TensorInfo& info) const {
  const Entry& e = entry(info);
  if (e.max_bytes && info.byte_size() > e.max_bytes)
    fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "' ", info.shape_string(), " has ", info.byte_size(),
         " bytes; this configuration's weight of that name takes at most ", e.max_bytes);
  return e.needs_bytes;
}

void WeightLoader::add(const TensorInfo& info, const uint8_t* bytes) {
  check(info);
  Entry& e = entries_.at(info.name);
  if (bytes && e.needs_bytes && !options_.allow_non_finite) {
    int64_t bad = first_non_finite(info.dtype, bytes, size_t(info.numel()));
    if (bad >= 0)
      fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "' ", info.shape_string(), ": element ", bad,
           " is NaN or infinite (load with allowNonFinite to accept such weights)");
  }
  if (!e.group.empty() && e.group != "optional") {
    // The other layout of the same linear set must not also be present.
    for (auto& [name, other] : entries_)
      if (other.group == e.group && other.done && (name == e.group) != (info.name == e.group))
        fail(ErrorCode::InvalidCheckpoint, "tensor '", info.name, "' and '", name,
             "' give the same weights in two layouts; keep one");
  }
  e.load(info, bytes);
  e.done = true;
  ++loaded_;
}

void check_stored_layout(const SafetensorsHeader& header) {
  const std::string* key = header.find_metadata(kStoredLayoutKey);
  const std::string layout = key ? *key : "1";
  const char* how =
      ": convert the original checkpoint again with this build's kyutai_convert, or load the original with "
      "format 'q8' or 'q4' (converted at load)";
  if (layout == std::to_string(kStoredLayout) || layout == "2") return;  // layout 2's symmetric q4 loads
  if (layout == "1") {                                                   // q4 as in layout 2; q8 had one scale per row
    for (const TensorInfo& t : header.tensors)
      if (t.dtype == DType::I8)
        fail(ErrorCode::InvalidCheckpoint, "tensor '", t.name,
             "' is q8 with one scale per row (stored layout 1, before q8 took an fp16 scale per 32 inputs); "
             "this build reads layout ",
             kStoredLayout, how);
    return;
  }
  fail(ErrorCode::InvalidCheckpoint, "this file stores its weights in layout '", layout, "' (metadata '",
       kStoredLayoutKey, "'); this build reads layouts 1 (q4 and float only), 2 and ", kStoredLayout, how);
}

std::unique_ptr<SafetensorsStream> WeightLoader::stream(SafetensorsStream::HeaderCallback on_header) {
  auto checked = [on_header = std::move(on_header)](const SafetensorsHeader& h) {
    check_stored_layout(h);
    if (on_header) on_header(h);
  };
  auto s = std::make_unique<SafetensorsStream>(std::move(checked),
                                               [this](const TensorInfo& t, const uint8_t* b) { add(t, b); });
  s->set_tensor_check([this](const TensorInfo& t) { return check(t); });
  return s;
}

void WeightLoader::finish() {
  std::vector<std::string> missing;
  std::set<std::string> groups_ok;
  for (auto& [name, e] : entries_)
    if (name == e.group && e.done) groups_ok.insert(e.group);
  // A split set is complete when all of its members arrived.
  std::map<std::string, bool> split_complete;
  for (auto& [name, e] : entries_) {
    if (e.group.empty() || e.group == "optional" || name == e.group) continue;
    auto [it, inserted] = split_complete.emplace(e.group, true);
    it->second = it->second && e.done;
  }
  for (auto& [g, complete] : split_complete)
    if (complete) groups_ok.insert(g);
  for (auto& [name, e] : entries_) {
    if (e.done || e.group == "optional") continue;
    if (!e.group.empty() && groups_ok.count(e.group)) continue;
    if (!e.group.empty() && name == e.group) continue;  // reported through its split members
    missing.push_back(name);
  }
  for (auto& [name, bytes] : pending_scales_) missing.push_back(name.substr(0, name.size() - 6));  // its weight
  for (auto& [name, codes] : pending_codes_) missing.push_back(name + "_scale");
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 12; ++i) list += (i ? ", " : "") + ("'" + missing[i] + "'");
    if (missing.size() > 12) list += str_cat(" and ", missing.size() - 12, " more");
    fail(ErrorCode::InvalidCheckpoint, "checkpoint is missing ", missing.size(), " tensor",
         missing.size() > 1 ? "s" : "", ": ", list);
  }
}

}  // namespace kyutai
