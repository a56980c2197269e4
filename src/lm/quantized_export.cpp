#include "lm/quantized_export.h"

#include <cstring>

#include "core/error.h"

namespace kyutai {

namespace {

struct Pending {
  TensorInfo info;
  std::function<std::vector<uint8_t>()> bytes;  // produced when written, one at a time
};

std::vector<uint8_t> float_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace

void export_weights(const std::vector<WeightLoader::TensorRef>& directory,
                    const std::vector<std::pair<std::string, std::string>>& metadata,
                    const std::function<void(const uint8_t*, size_t)>& sink) {
  std::vector<Pending> tensors;
  auto add = [&](const std::string& name, DType dtype, std::vector<int64_t> shape,
                 std::function<std::vector<uint8_t>()> bytes) {
    TensorInfo t;
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    tensors.push_back({t, std::move(bytes)});
  };
  for (const WeightLoader::TensorRef& ref : directory) {
    const std::string& name = ref.name;
    const void* target = ref.target;
    const std::vector<int64_t>& shape = ref.shape;
    switch (ref.kind) {
      case WeightLoader::Kind::Vector: {
        auto v = static_cast<const std::vector<float>*>(target);
        add(name, DType::F32, shape, [v] { return float_bytes(*v); });
        break;
      }
      case WeightLoader::Kind::Table: {
        auto t = static_cast<const EmbeddingTable*>(target);
        if (!t->bf16) {
          add(name, DType::F32, {t->rows, t->width}, [t] {
            std::vector<uint8_t> out(t->f32_data.bytes());
            std::memcpy(out.data(), t->f32_data.data(), out.size());
            return out;
          });
          break;
        }
        add(name, DType::BF16, {t->rows, t->width}, [t] {  // the table's own bits (little-endian, as the file)
          std::vector<uint8_t> out(t->bf16_data.bytes());
          std::memcpy(out.data(), t->bf16_data.data(), out.size());
          return out;
        });
        break;
      }
      case WeightLoader::Kind::Linear: {
        auto l = static_cast<const Linear*>(target);
        const PackedMatrix& m = l->weight;
        if (m.format == WeightFormat::Q8 || m.format == WeightFormat::Q4) {
          const bool q8 = m.format == WeightFormat::Q8;
          std::vector<int64_t> wshape = q8 ? std::vector<int64_t>{m.out, m.in}
                                           : std::vector<int64_t>{m.out, int64_t(m.blocks()) * kQuantBlock / 2};
          add(name, q8 ? DType::I8 : DType::U8, wshape, [&m] { return export_quantized_weight(m); });
          const DType scale_dtype = stored_scale_dtype(m);
          add(name + "_scale", scale_dtype, {m.out, stored_scale_columns(m.format, scale_dtype, m.in)},
              [&m] { return export_quantized_scale(m); });
        } else {
          if (m.native)
            fail(ErrorCode::InvalidState, "export: '", name,
                 "' lives in a native operator; load with use_xnnpack = false");
          const bool f32 = m.format == WeightFormat::F32;
          add(name, f32 ? DType::F32 : DType::BF16, {m.out, m.in}, [&m, f32] {
            std::vector<uint8_t> out(size_t(m.out) * m.in * (f32 ? 4 : 2));
            std::vector<float> row(m.in);
            for (int o = 0; o < m.out; ++o) {
              unpack_row(m, o, row.data());
              if (f32) {
                std::memcpy(out.data() + size_t(o) * m.in * 4, row.data(), size_t(m.in) * 4);
                continue;
              }
              for (int k = 0; k < m.in; ++k) {
                uint16_t b = f32_to_bf16(row[k]);
                std::memcpy(out.data() + (size_t(o) * m.in + k) * 2, &b, 2);
              }
            }
            return out;
          });
        }
        break;
      }
    }
  }
  uint64_t offset = 0;
  for (auto& t : tensors) {
    t.info.begin = offset;
    t.info.end = offset + t.info.numel() * dtype_size(t.info.dtype);
    offset = t.info.end;
  }
  std::vector<TensorInfo> infos;
  for (const auto& t : tensors) infos.push_back(t.info);
  std::vector<std::pair<std::string, std::string>> tagged = metadata;
  tagged.emplace_back(kStoredLayoutKey, std::to_string(kStoredLayout));
  std::vector<uint8_t> header = safetensors_header_bytes(infos, tagged);
  sink(header.data(), header.size());
  for (const auto& t : tensors) {
    std::vector<uint8_t> bytes = t.bytes();
    if (bytes.size() != t.info.byte_size())
      fail(ErrorCode::Internal, "export: tensor '", t.info.name, "' produced ", bytes.size(), " bytes, expected ",
           t.info.byte_size());
    sink(bytes.data(), bytes.size());
  }
}

}  // namespace kyutai
