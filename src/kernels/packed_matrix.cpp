#include "kernels/packed_matrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/quant_blocks.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

namespace kyutai {

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::F32: return "f32";
    case WeightFormat::BF16: return "bf16";
    case WeightFormat::Q8: return "q8";
    case WeightFormat::Q4: return "q4";
  }
  return "?";
}

bool parse_weight_format(const std::string& name, WeightFormat* out) {
  for (WeightFormat f : {WeightFormat::F32, WeightFormat::BF16, WeightFormat::Q8, WeightFormat::Q4})
    if (name == weight_format_name(f)) {
      *out = f;
      return true;
    }
  return false;
}

namespace {

int padded_inputs(WeightFormat format, int in) {
  switch (format) {
    case WeightFormat::Q8:
    case WeightFormat::Q4: return (in + kQuantBlock - 1) / kQuantBlock * kQuantBlock;
    default: return in;
  }
}

size_t panel_bytes(WeightFormat format, int in_padded) {
  switch (format) {
    case WeightFormat::F32: return size_t(in_padded) * kPanel * 4;
    case WeightFormat::BF16: return size_t(in_padded) * kPanel * 2;
    case WeightFormat::Q8: return size_t(in_padded) * kPanel;
    case WeightFormat::Q4: return size_t(in_padded) * kPanel / 2;
  }
  return 0;
}

PackedMatrix allocate(WeightFormat format, int out, int in, Q4Layout q4_layout) {
  if (out <= 0 || in <= 0) fail(ErrorCode::InvalidArgument, "matrix of shape [", out, ", ", in, "] cannot be packed");
  PackedMatrix m;
  m.out = out;
  m.in = in;
  m.format = format;
  m.q4_layout = q4_layout;
  m.in_padded = padded_inputs(format, in);
  m.data.resize(panel_bytes(format, m.in_padded) * m.panels());
  if (format == WeightFormat::Q8 || format == WeightFormat::Q4)
    m.scales.resize(size_t(m.panels()) * m.blocks() * kPanel);
  return m;
}

// Round to nearest (ties to even: one f32.nearest in WebAssembly, where std::round is a
// library call) and clamp.
inline int8_t round_clamp(float v, int lo, int hi) {
  float r = std::nearbyint(v);
  return int8_t(std::min<float>(float(hi), std::max<float>(float(lo), r)));
}

// out[i] = round_clamp(w[i] * inv, -8, 7) + 8: one block's 4-bit values as stored.
void q4_nibbles(const float* w, int n, float inv, uint8_t* out) {
  int i = 0;
#ifdef __wasm_simd128__
  // pmax/pmin take the first operand on NaN and ties, as std::max/std::min do in round_clamp.
  const v128_t vi = wasm_f32x4_splat(inv), lo = wasm_f32x4_splat(-8.0f), hi = wasm_f32x4_splat(7.0f),
               eight = wasm_f32x4_splat(8.0f);
  auto nib4 = [&](const float* x) {
    const v128_t q = wasm_f32x4_pmin(hi,
                                     wasm_f32x4_pmax(lo, wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x), vi))));
    return wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(q, eight));
  };
  for (; i + 16 <= n; i += 16) {
    const v128_t a = wasm_i16x8_narrow_i32x4(nib4(w + i), nib4(w + i + 4));
    const v128_t b = wasm_i16x8_narrow_i32x4(nib4(w + i + 8), nib4(w + i + 12));
    wasm_v128_store(out + i, wasm_u8x16_narrow_i16x8(a, b));
  }
#endif
  for (; i < n; ++i) out[i] = uint8_t(round_clamp(w[i] * inv, -8, 7) + 8);
}

void pack_panel(PackedMatrix& m, int panel, const float* rows, int count) {
  const int in = m.in;
  uint8_t* base = m.data.data() + panel_bytes(m.format, m.in_padded) * panel;
  switch (m.format) {
    case WeightFormat::F32: {
      float* p = reinterpret_cast<float*>(base);
      for (int r = 0; r < count; ++r)
        for (int k = 0; k < in; ++k) p[size_t(k) * kPanel + r] = rows[size_t(r) * in + k];
      break;
    }
    case WeightFormat::BF16: {
      uint16_t* p = reinterpret_cast<uint16_t*>(base);
      for (int r = 0; r < count; ++r)
        for (int k = 0; k < in; ++k) p[size_t(k) * kPanel + r] = f32_to_bf16(rows[size_t(r) * in + k]);
      break;
    }
    case WeightFormat::Q8: {
      // Q8_0 blocks (quant_blocks.h); padding rows and inputs hold q = 0 (stored 128 in the low
      // bytes) with scale 0.
      const int blocks = m.blocks();
      std::vector<int8_t> q(m.in_padded);
      float block[kQuantBlock];
      for (int r = 0; r < kPanel; ++r) {
        std::fill(q.begin(), q.end(), int8_t(0));
        for (int b = 0; r < count && b < blocks; ++b) {
          const int k0 = b * kQuantBlock, n = std::min(in, k0 + kQuantBlock) - k0;
          std::fill(block, block + kQuantBlock, 0.0f);
          std::memcpy(block, rows + size_t(r) * in + k0, sizeof(float) * n);
          const uint16_t d = quant::quantize_q8_0(block, q.data() + k0);
          m.scales[(size_t(panel) * blocks + b) * kPanel + r] = f16_to_f32(d);
        }
        uint8_t* even = base + q8_offset(r, 0);  // input k sits k / 2 pairs further
        uint8_t* odd = base + q8_offset(r, 1);
        for (int k = 0; k < m.in_padded; k += 2) {
          even[size_t(k / 2) * 32] = q8_stored_byte(r, q[k]);
          odd[size_t(k / 2) * 32] = q8_stored_byte(r, q[k + 1]);
        }
      }
      break;
    }
    case WeightFormat::Q4: {
      // Nibbles (q + 8) of the whole panel first, padding rows and inputs holding q = 0.
      const int blocks = m.blocks(), kp = m.in_padded;
      std::vector<uint8_t> nib(size_t(kPanel) * kp, 8);
      for (int r = 0; r < count; ++r) {
        const float* w = rows + size_t(r) * in;
        uint8_t* n = nib.data() + size_t(r) * kp;
        for (int b = 0; b < blocks; ++b) {
          const int k0 = b * kQuantBlock, k1 = std::min(in, k0 + kQuantBlock);
          const float scale = q4_block_scale(w + k0, k1 - k0), inv = 1.0f / scale;
          m.scales[(size_t(panel) * blocks + b) * kPanel + r] = scale;
          q4_nibbles(w + k0, k1 - k0, inv, n + k0);
        }
      }
      for (int r = 0; r < kPanel; ++r) {
        const uint8_t* n = nib.data() + size_t(r) * kp;
        for (int k = 0; k < kp; ++k) {
          int high;
          const size_t offset = q4_offset(m.q4_layout, r, k, &high);
          base[offset] |= uint8_t(q4_stored_nibble(m.q4_layout, r, n[k]) << (4 * high));
        }
      }
      break;
    }
  }
}

}  // namespace

namespace {

// Squared error of quantizing w[0..n) with `scale` (q = clamp(nearest(w / scale), -8, 7)),
// summed in four partial sums by i % 4: the order of a 4-lane loop, so both versions agree.
float q4_error(const float* w, int n, float scale, float inv) {
  float err[4] = {0, 0, 0, 0};
  int i = 0;
#ifdef __wasm_simd128__
  // Loading q4 weights quantizes the whole model: this loop is most of q4's load time.
  if (n % 4 == 0) {
    const v128_t vs = wasm_f32x4_splat(scale), vi = wasm_f32x4_splat(inv);
    const v128_t lo = wasm_f32x4_splat(-8.0f), hi = wasm_f32x4_splat(7.0f);
    v128_t acc = wasm_f32x4_splat(0);
    for (; i < n; i += 4) {
      const v128_t x = wasm_v128_load(w + i);
      // pmin/pmax are std::min/std::max exactly (the first operand wins ties and NaN).
      const v128_t q = wasm_f32x4_pmin(hi, wasm_f32x4_pmax(lo, wasm_f32x4_nearest(wasm_f32x4_mul(x, vi))));
      const v128_t d = wasm_f32x4_sub(x, wasm_f32x4_mul(q, vs));
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(d, d));
    }
    wasm_v128_store(err, acc);
  }
#endif
  for (; i < n; ++i) {
    float q = std::min(7.0f, std::max(-8.0f, std::nearbyint(w[i] * inv)));
    float d = w[i] - q * scale;
    err[i % 4] += d * d;
  }
  return (err[0] + err[1]) + (err[2] + err[3]);
}

// The first of w[0..n) with the largest magnitude (NaN never counts), or 0 when all are 0.
float first_absmax(const float* w, int n) {
  float amax = 0;
  int i = 0;
#ifdef __wasm_simd128__
  v128_t m = wasm_f32x4_splat(0);
  for (; i + 4 <= n; i += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(w + i)));
  // pmax(m, NaN) keeps m, so no lane holds NaN.
  amax = std::max(std::max(wasm_f32x4_extract_lane(m, 0), wasm_f32x4_extract_lane(m, 1)),
                  std::max(wasm_f32x4_extract_lane(m, 2), wasm_f32x4_extract_lane(m, 3)));
#endif
  for (; i < n; ++i) amax = std::max(amax, std::fabs(w[i]));  // std::max keeps amax on NaN
  if (amax == 0) return 0;
  for (int k = 0; k < n; ++k)
    if (std::fabs(w[k]) == amax) return w[k];
  return 0;
}

}  // namespace

float q4_block_scale(const float* w, int n) {
  // The signed absmax mapped to -8 uses all 16 levels (7 positive, 8 negative); a few
  // scales around it are tried and the one with the least squared error kept, as a 4-bit
  // grid is coarse enough for the choice to matter. Five candidates keep load time low
  // (the whole STT-1B is quantized at load).
  const float signed_max = first_absmax(w, n);
  if (signed_max == 0) return 1.0f;
  static const float kLevels[] = {-8.0f, -8.6f, -7.4f, -9.2f, -6.8f};
  float best_scale = signed_max / kLevels[0], best_err = INFINITY;
  for (float level : kLevels) {
    const float scale = signed_max / level, total = q4_error(w, n, scale, level / signed_max);
    if (total < best_err) {
      best_err = total;
      best_scale = scale;
    }
  }
  return best_scale;
}

const char* q4_layout_name(Q4Layout layout) { return layout == Q4Layout::Bytes ? "bytes" : "lanes"; }

PackedMatrix pack_matrix(WeightFormat format, int out, int in, RowReader reader, const void* source,
                         Q4Layout q4_layout) {
  PackedMatrix m = allocate(format, out, in, q4_layout);
  std::vector<float> rows(size_t(kPanel) * in);
  for (int p = 0; p < m.panels(); ++p) {
    int count = std::min(kPanel, out - p * kPanel);
    reader(source, p * kPanel, count, in, rows.data());
    pack_panel(m, p, rows.data(), count);
  }
  return m;
}

PackedMatrix pack_matrix_f32(WeightFormat format, int out, int in, const float* rows, Q4Layout q4_layout) {
  return pack_matrix(
      format, out, in,
      [](const void* src, int row, int count, int in, float* dst) {
        std::memcpy(dst, static_cast<const float*>(src) + size_t(row) * in, sizeof(float) * size_t(count) * in);
      },
      rows, q4_layout);
}

namespace {

// Row o's per-block scales between a file's row-major [out, blocks] and the panels' [panel][block][row].
float& panel_scale(PackedMatrix& m, int o, int b) {
  return m.scales[(size_t(o / kPanel) * m.blocks() + b) * kPanel + o % kPanel];
}
float panel_scale(const PackedMatrix& m, int o, int b) {
  return m.scales[(size_t(o / kPanel) * m.blocks() + b) * kPanel + o % kPanel];
}

}  // namespace

PackedMatrix pack_prequantized(WeightFormat format, int out, int in, const uint8_t* weight, const float* scale,
                               Q4Layout q4_layout) {
  PackedMatrix m = allocate(format, out, in, q4_layout);
  if (format == WeightFormat::Q8) {
    const int blocks = m.blocks();
    for (int p = 0; p < m.panels(); ++p) {
      uint8_t* base = m.data.data() + panel_bytes(format, m.in_padded) * p;
      for (int r = 0; r < kPanel; ++r) {
        const int o = p * kPanel + r;
        for (int k = 0; k < m.in_padded; ++k)
          base[q8_offset(r, k)] = q8_stored_byte(r, o < out && k < in ? int8_t(weight[size_t(o) * in + k]) : 0);
        if (o < out)
          for (int b = 0; b < blocks; ++b) panel_scale(m, o, b) = scale[size_t(o) * blocks + b];
      }
    }
  } else if (format == WeightFormat::Q4) {
    const int blocks = m.blocks();
    const size_t row_bytes = size_t(blocks) * kQuantBlock / 2;
    for (int p = 0; p < m.panels(); ++p) {
      uint8_t* base = m.data.data() + panel_bytes(format, m.in_padded) * p;
      for (int r = 0; r < kPanel; ++r) {
        int o = p * kPanel + r;
        for (int k = 0; k < m.in_padded; ++k) {
          uint8_t nib = 8;
          if (o < out && k < in) {
            uint8_t byte = weight[size_t(o) * row_bytes + k / 2];
            nib = (k % 2) ? uint8_t(byte >> 4) : uint8_t(byte & 0x0f);
          }
          int high;
          size_t off = q4_offset(m.q4_layout, r, k, &high);
          nib = q4_stored_nibble(m.q4_layout, r, nib);
          base[off] = high ? uint8_t((base[off] & 0x0f) | (nib << 4)) : uint8_t((base[off] & 0xf0) | nib);
        }
        if (o < out)
          for (int b = 0; b < blocks; ++b) panel_scale(m, o, b) = scale[size_t(o) * blocks + b];
      }
    }
  } else {
    fail(ErrorCode::InvalidArgument, "pack_prequantized: format ", weight_format_name(format), " is not quantized");
  }
  return m;
}

void export_quantized(const PackedMatrix& m, std::vector<uint8_t>* weight, std::vector<float>* scale) {
  const size_t pb = panel_bytes(m.format, m.in_padded);
  if (m.format == WeightFormat::Q8) {
    const int blocks = m.blocks();
    weight->assign(size_t(m.out) * m.in, 0);
    scale->assign(size_t(m.out) * blocks, 0);
    for (int o = 0; o < m.out; ++o) {
      const int p = o / kPanel, r = o % kPanel;
      const uint8_t* base = m.data.data() + pb * p;
      for (int k = 0; k < m.in; ++k) (*weight)[size_t(o) * m.in + k] = uint8_t(q8_value(r, base[q8_offset(r, k)]));
      for (int b = 0; b < blocks; ++b) (*scale)[size_t(o) * blocks + b] = panel_scale(m, o, b);
    }
  } else if (m.format == WeightFormat::Q4) {
    const int blocks = m.blocks();
    const size_t row_bytes = size_t(blocks) * kQuantBlock / 2;
    weight->assign(size_t(m.out) * row_bytes, 0x88);
    scale->assign(size_t(m.out) * blocks, 0);
    for (int o = 0; o < m.out; ++o) {
      int p = o / kPanel, r = o % kPanel;
      const uint8_t* base = m.data.data() + pb * p;
      for (int k = 0; k < m.in_padded; ++k) {
        const uint8_t nib = q4_biased(m.q4_layout, base, r, k);
        uint8_t& byte = (*weight)[size_t(o) * row_bytes + k / 2];
        byte = (k % 2) ? uint8_t((byte & 0x0f) | (nib << 4)) : uint8_t((byte & 0xf0) | nib);
      }
      for (int b = 0; b < blocks; ++b) (*scale)[size_t(o) * blocks + b] = panel_scale(m, o, b);
    }
  } else {
    fail(ErrorCode::InvalidArgument, "export_quantized: format ", weight_format_name(m.format), " is not quantized");
  }
}

void unpack_row(const PackedMatrix& m, int row, float* out) {
  const int p = row / kPanel, r = row % kPanel;
  const uint8_t* base = m.data.data() + panel_bytes(m.format, m.in_padded) * p;
  for (int k = 0; k < m.in; ++k) {
    switch (m.format) {
      case WeightFormat::F32: out[k] = reinterpret_cast<const float*>(base)[size_t(k) * kPanel + r]; break;
      case WeightFormat::BF16:
        out[k] = bf16_to_f32(reinterpret_cast<const uint16_t*>(base)[size_t(k) * kPanel + r]);
        break;
      case WeightFormat::Q8:
        out[k] = float(q8_value(r, base[q8_offset(r, k)])) *
                 m.scales[(size_t(p) * m.blocks() + k / kQuantBlock) * kPanel + r];
        break;
      case WeightFormat::Q4: {
        const int q = int(q4_biased(m.q4_layout, base, r, k)) - 8;
        out[k] = float(q) * m.scales[(size_t(p) * m.blocks() + k / kQuantBlock) * kPanel + r];
        break;
      }
    }
  }
}

}  // namespace kyutai
