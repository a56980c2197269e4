#include "kernels/packed_matrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
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

const float* PackedMatrix::block_scales(int p, int b) const {
  if (format == WeightFormat::Q8)
    return reinterpret_cast<const float*>(data.data() + p * panel_bytes() + b * kQ8BlockBytes + kQ8BlockWeights);
  return scales.data() + (size_t(p) * blocks() + b) * kQ4BlockScales;
}
float* PackedMatrix::block_scales(int p, int b) {
  return const_cast<float*>(static_cast<const PackedMatrix*>(this)->block_scales(p, b));
}

size_t panel_bytes(WeightFormat format, int in_padded) {
  switch (format) {
    case WeightFormat::F32: return size_t(in_padded) * kPanel * 4;
    case WeightFormat::BF16: return size_t(in_padded) * kPanel * 2;
    case WeightFormat::Q8: return size_t(in_padded / kQuantBlock) * kQ8BlockBytes;
    case WeightFormat::Q4: return size_t(in_padded) * kPanel / 2;
  }
  return 0;
}

namespace {

int padded_inputs(WeightFormat format, int in) {
  switch (format) {
    case WeightFormat::Q8:
    case WeightFormat::Q4: return (in + kQuantBlock - 1) / kQuantBlock * kQuantBlock;
    default: return in;
  }
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
  if (format == WeightFormat::Q4) m.scales.resize(size_t(m.panels()) * m.blocks() * kQ4BlockScales);
  return m;
}

// Row o's scale (and, for Q4, min) of block b.
float& panel_scale(PackedMatrix& m, int o, int b) { return m.block_scales(o / kPanel, b)[o % kPanel]; }
float panel_scale(const PackedMatrix& m, int o, int b) { return m.block_scales(o / kPanel, b)[o % kPanel]; }
float& panel_min(PackedMatrix& m, int o, int b) { return m.block_scales(o / kPanel, b)[kPanel + o % kPanel]; }
float panel_min(const PackedMatrix& m, int o, int b) { return m.block_scales(o / kPanel, b)[kPanel + o % kPanel]; }

// Blocks [b0, b0 + n) of row o take a Q4_K super-block's s = d sc and mn = dmin m (exact in f32).
void set_q4_k_scales(PackedMatrix& m, int o, int b0, int n, const quant::Q4KSuper& super) {
  const float d = f16_to_f32(super.d), dmin = f16_to_f32(super.dmin);
  for (int i = 0; i < n; ++i) {
    panel_scale(m, o, b0 + i) = d * float(super.sc[i]);
    panel_min(m, o, b0 + i) = dmin * float(super.m[i]);
  }
}

// The fp16 factor and 6-bit codes that give values[0..n) exactly (values = d code), if any:
// the inverse of set_q4_k_scales for the scales or the mins of one super-block.
bool q4_k_codes(const float* values, int n, uint16_t* d16, uint8_t* codes) {
  float top = 0;
  for (int i = 0; i < n; ++i) top = std::max(top, values[i]);
  for (int c = 63; c >= 1 || top == 0; --c) {  // the largest code first; all zero takes d = 0
    const float d = top == 0 ? 0.0f : top / float(c);
    *d16 = f32_to_f16(d);
    bool exact = f16_to_f32(*d16) == d;
    for (int i = 0; exact && i < n; ++i) {
      const float k = d > 0 ? std::nearbyint(values[i] / d) : 0.0f;
      exact = k >= 0 && k <= 63 && d * k == values[i];
      codes[i] = exact ? uint8_t(k) : 0;
    }
    if (exact || top == 0) return exact;
  }
  return false;
}

// The panel writers below put each stored byte once, in the order it lies, instead of one
// q8_offset / q4_offset per value: loading a converted q4 checkpoint spent 70% of its time
// placing nibbles one at a time. The offsets above stay the definition (tests read back
// through them).

// Row r of a Q8 panel from its values q[0..kp), kp a multiple of the block.
void place_q8_row(int r, const int8_t* q, int kp, uint8_t* base) {
  for (int k0 = 0; k0 < kp; k0 += kQuantBlock) {
    uint8_t* even = base + q8_offset(r, k0);  // input k0 + k sits k / 2 pairs further
    uint8_t* odd = base + q8_offset(r, k0 + 1);
    for (int k = 0; k < kQuantBlock; k += 2) {
      even[size_t(k / 2) * 32] = q8_stored_byte(r, q[k0 + k]);
      odd[size_t(k / 2) * 32] = q8_stored_byte(r, q[k0 + k + 1]);
    }
  }
}

// Two bytes a and b of two codes each (the even input's low) give two bytes of one input each,
// a's code low: join_even(a, b) for the even input, join_odd(a, b) for the odd one. Applied to
// those two, the same pair gives a and b back, so placing and reading share them.
inline uint8_t join_even(uint8_t a, uint8_t b) { return uint8_t((a & 0x0f) | (b << 4)); }
inline uint8_t join_odd(uint8_t a, uint8_t b) { return uint8_t((a >> 4) | (b & 0xf0)); }

// A Q4 panel from its 16 rows as files store them: rows[r] holds kp / 2 bytes, two codes
// each, the even input's in the low nibble. A panel byte joins two rows' nibbles of one
// input, so each comes from two stored bytes with a mask or a shift.
void place_q4_panel(Q4Layout layout, const uint8_t* const* rows, int kp, uint8_t* base) {
  if (layout == Q4Layout::Bytes) {  // per 4 inputs, byte 4i + j of vector h: rows 8h + i and 8h + 4 + i
    for (int k0 = 0; k0 < kp; k0 += 4, base += 32)
      for (int h = 0; h < 2; ++h)
        for (int i = 0; i < 4; ++i) {
          const uint8_t *lo = rows[8 * h + i] + k0 / 2, *hi = rows[8 * h + 4 + i] + k0 / 2;
          uint8_t* b = base + h * 16 + i * 4;
          b[0] = join_even(lo[0], hi[0]), b[1] = join_odd(lo[0], hi[0]), b[2] = join_even(lo[1], hi[1]),
          b[3] = join_odd(lo[1], hi[1]);
        }
    return;
  }
  // Lanes: per k-pair, lane 2i + (k % 2) holds rows i and 4 + i in its low byte, 8 + i and
  // 12 + i in its high one; rows 12..15 store c ^ 8 (q4_stored_nibble): bit 7 of that byte.
  static_assert(kPanel == 16, "four rows per lane");
  for (int m = 0; m < kp / 2; ++m, base += 16)
    for (int i = 0; i < 4; ++i) {
      const uint8_t r0 = rows[i][m], r4 = rows[4 + i][m], r8 = rows[8 + i][m], r12 = rows[12 + i][m];
      uint8_t* lane = base + 4 * i;
      lane[0] = join_even(r0, r4), lane[1] = join_even(r8, r12) ^ 0x80, lane[2] = join_odd(r0, r4),
      lane[3] = join_odd(r8, r12) ^ 0x80;
    }
}

// The inverse of place_q4_panel: the panel's 16 rows in their stored form. Each pair of panel
// bytes the placing made from two stored bytes gives them back with the same mask and shift.
void read_q4_panel(Q4Layout layout, const uint8_t* base, int kp, uint8_t* const* rows) {
  if (layout == Q4Layout::Bytes) {
    for (int k0 = 0; k0 < kp; k0 += 4, base += 32)
      for (int h = 0; h < 2; ++h)
        for (int i = 0; i < 4; ++i) {
          uint8_t *lo = rows[8 * h + i] + k0 / 2, *hi = rows[8 * h + 4 + i] + k0 / 2;
          const uint8_t* b = base + h * 16 + i * 4;
          lo[0] = join_even(b[0], b[1]), hi[0] = join_odd(b[0], b[1]), lo[1] = join_even(b[2], b[3]),
          hi[1] = join_odd(b[2], b[3]);
        }
    return;
  }
  for (int m = 0; m < kp / 2; ++m, base += 16)
    for (int i = 0; i < 4; ++i) {
      const uint8_t* lane = base + 4 * i;
      const uint8_t l1 = lane[1] ^ 0x80, l3 = lane[3] ^ 0x80;
      rows[i][m] = join_even(lane[0], lane[2]), rows[4 + i][m] = join_odd(lane[0], lane[2]);
      rows[8 + i][m] = join_even(l1, l3), rows[12 + i][m] = join_odd(l1, l3);
    }
}

// The inverse of place_q8_row: row r's values q[0..kp).
void read_q8_row(int r, const uint8_t* base, int kp, int8_t* q) {
  for (int k0 = 0; k0 < kp; k0 += kQuantBlock) {
    const uint8_t* even = base + q8_offset(r, k0);
    const uint8_t* odd = base + q8_offset(r, k0 + 1);
    for (int k = 0; k < kQuantBlock; k += 2) {
      q[k0 + k] = int8_t(q8_value(r, even[size_t(k / 2) * 32]));
      q[k0 + k + 1] = int8_t(q8_value(r, odd[size_t(k / 2) * 32]));
    }
  }
}

// The stored form of codes c[0..n), two per byte, the even input's low (n even).
void store_q4_codes(const uint8_t* c, int n, uint8_t* row) {
  for (int k = 0; k < n; k += 2) row[k / 2] = uint8_t(c[k] | c[k + 1] << 4);
}

// A padding row: every code 8, so its (zero-scaled) weights stay zero.
constexpr uint8_t kPaddingCodes = 0x88;

// fn(begin, end) over the matrix's panels, split across the pool when there is one.
template <class Fn>
void for_panels(const PackedMatrix& m, ThreadPool* pool, const Fn& fn) {
  if (pool) pool->parallel_for(m.panels(), fn);  // inline when the pool has no workers
  else fn(0, m.panels());
}

void pack_panel(PackedMatrix& m, int panel, const float* rows, int count, int q4_search_steps) {
  const int in = m.in;
  uint8_t* base = m.data.data() + m.panel_bytes() * panel;
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
          panel_scale(m, panel * kPanel + r, b) = f16_to_f32(d);
        }
        place_q8_row(r, q.data(), m.in_padded, base);
      }
      break;
    }
    case WeightFormat::Q4: {
      // The rows in their stored form first (two codes a byte); padding rows hold c = 8 with
      // s = mn = 0, padding inputs whatever their super-block's zeros quantize to (they meet
      // zero activations).
      const int kp = m.in_padded;
      std::vector<uint8_t> stored(size_t(kPanel) * kp / 2, kPaddingCodes);
      float chunk[quant::kSuperBlock];
      quant::Q4KSuper super;
      for (int r = 0; r < count; ++r) {
        for (int k0 = 0; k0 < kp; k0 += quant::kSuperBlock) {  // k0 < in: kp rounds in up to 32
          std::fill(chunk, chunk + quant::kSuperBlock, 0.0f);
          std::memcpy(chunk, rows + size_t(r) * in + k0, sizeof(float) * size_t(std::min(in - k0, quant::kSuperBlock)));
          quant::quantize_q4_k(chunk, &super, q4_search_steps);
          const int n = std::min(kp - k0, quant::kSuperBlock);
          store_q4_codes(super.q, n, stored.data() + (size_t(r) * kp + k0) / 2);
          set_q4_k_scales(m, panel * kPanel + r, k0 / kQuantBlock, n / kQuantBlock, super);
        }
      }
      const uint8_t* rows[kPanel];
      for (int r = 0; r < kPanel; ++r) rows[r] = stored.data() + size_t(r) * kp / 2;
      place_q4_panel(m.q4_layout, rows, kp, base);
      break;
    }
  }
}

}  // namespace

const char* q4_layout_name(Q4Layout layout) { return layout == Q4Layout::Bytes ? "bytes" : "lanes"; }

PackedMatrix pack_matrix(WeightFormat format, int out, int in, RowReader reader, const void* source, Q4Layout q4_layout,
                         int q4_search_steps, ThreadPool* pool) {
  PackedMatrix m = allocate(format, out, in, q4_layout);
  const auto pack_panels = [&](int begin, int end) {
    std::vector<float> rows(size_t(kPanel) * in);
    for (int p = begin; p < end; ++p) {
      const int count = std::min(kPanel, out - p * kPanel);
      reader(source, p * kPanel, count, in, rows.data());
      pack_panel(m, p, rows.data(), count, q4_search_steps);
    }
  };
  for_panels(m, pool, pack_panels);
  return m;
}

PackedMatrix pack_matrix_f32(WeightFormat format, int out, int in, const float* rows, Q4Layout q4_layout,
                             int q4_search_steps, ThreadPool* pool) {
  return pack_matrix(
      format, out, in,
      [](const void* src, int row, int count, int in, float* dst) {
        std::memcpy(dst, static_cast<const float*>(src) + size_t(row) * in, sizeof(float) * size_t(count) * in);
      },
      rows, q4_layout, q4_search_steps, pool);
}

namespace {

int super_blocks(int in) { return (in + quant::kSuperBlock - 1) / quant::kSuperBlock; }

}  // namespace

int64_t stored_scale_columns(WeightFormat format, DType dtype, int in) {
  const int64_t blocks = (in + kQuantBlock - 1) / kQuantBlock;
  if (format == WeightFormat::Q8) return dtype == DType::F16 ? blocks : -1;
  if (format != WeightFormat::Q4) return -1;
  if (dtype == DType::U8) return int64_t(super_blocks(in)) * quant::kQ4KScaleBytes;
  return dtype == DType::F32 ? blocks : -1;
}

namespace {

void refuse_unless_scales(WeightFormat format, DType scale_dtype, int in) {
  if (stored_scale_columns(format, scale_dtype, in) < 0)
    fail(ErrorCode::InvalidArgument, "pack_prequantized: format ", weight_format_name(format), " has no ",
         dtype_name(scale_dtype), " scales");
}

}  // namespace

PackedMatrix pack_prequantized_codes(WeightFormat format, int out, int in, const uint8_t* weight, Q4Layout q4_layout,
                                     ThreadPool* pool) {
  if (format != WeightFormat::Q8 && format != WeightFormat::Q4)
    fail(ErrorCode::InvalidArgument, "pack_prequantized: format ", weight_format_name(format), " is not quantized");
  PackedMatrix m = allocate(format, out, in, q4_layout);
  const int kp = m.in_padded;
  const size_t pb = panel_bytes(format, kp), row_bytes = size_t(kp) / 2;  // a stored Q4 row
  const std::vector<uint8_t> padding(format == WeightFormat::Q4 ? row_bytes : 0, kPaddingCodes);
  for_panels(m, pool, [&](int begin, int end) {
    std::vector<int8_t> q(format == WeightFormat::Q8 ? kp : 0, 0);  // padding inputs hold q = 0
    for (int p = begin; p < end; ++p) {
      uint8_t* base = m.data.data() + pb * p;
      if (format == WeightFormat::Q8) {
        for (int r = 0; r < kPanel; ++r) {
          const int o = p * kPanel + r;
          if (o < out) std::memcpy(q.data(), weight + size_t(o) * in, size_t(in));
          else std::fill(q.begin(), q.end(), int8_t(0));  // padding rows too, as pack_panel's
          place_q8_row(r, q.data(), kp, base);
        }
        continue;
      }
      const uint8_t* rows[kPanel];
      for (int r = 0; r < kPanel; ++r) {
        const int o = p * kPanel + r;
        rows[r] = o < out ? weight + size_t(o) * row_bytes : padding.data();
      }
      place_q4_panel(q4_layout, rows, kp, base);
    }
  });
  return m;
}

void set_prequantized_scales(PackedMatrix& m, DType scale_dtype, const uint8_t* scale, ThreadPool* pool) {
  refuse_unless_scales(m.format, scale_dtype, m.in);
  m.q4_symmetric = m.format == WeightFormat::Q4 && scale_dtype == DType::F32;
  const int blocks = m.blocks();
  const auto row_scales = [&](int o, std::vector<float>& row) {
    if (m.format == WeightFormat::Q8) {
      convert_to_f32(DType::F16, scale + size_t(o) * blocks * 2, size_t(blocks), row.data());
      for (int b = 0; b < blocks; ++b) panel_scale(m, o, b) = row[b];
    } else if (m.q4_symmetric) {
      std::memcpy(row.data(), scale + size_t(o) * blocks * 4, size_t(blocks) * 4);
      for (int b = 0; b < blocks; ++b) panel_scale(m, o, b) = row[b], panel_min(m, o, b) = 8.0f * row[b];
    } else {
      const int supers = super_blocks(m.in);
      for (int s = 0; s < supers; ++s) {
        quant::Q4KSuper super;
        quant::load_q4_k_scales(scale + (size_t(o) * supers + s) * quant::kQ4KScaleBytes, &super);
        const int b0 = s * quant::kSubBlocks;
        set_q4_k_scales(m, o, b0, std::min(quant::kSubBlocks, blocks - b0), super);
      }
    }
  };
  for_panels(m, pool, [&](int begin, int end) {
    std::vector<float> row(blocks);
    for (int o = begin * kPanel; o < std::min(m.out, end * kPanel); ++o) row_scales(o, row);
  });
}

PackedMatrix pack_prequantized(WeightFormat format, int out, int in, const uint8_t* weight, DType scale_dtype,
                               const uint8_t* scale, Q4Layout q4_layout, ThreadPool* pool) {
  refuse_unless_scales(format, scale_dtype, in);  // before anything is allocated
  PackedMatrix m = pack_prequantized_codes(format, out, in, weight, q4_layout, pool);
  set_prequantized_scales(m, scale_dtype, scale, pool);
  return m;
}

DType stored_scale_dtype(const PackedMatrix& m) {
  if (m.format == WeightFormat::Q8) return DType::F16;
  if (m.format != WeightFormat::Q4)
    fail(ErrorCode::InvalidArgument, "export: format ", weight_format_name(m.format), " is not quantized");
  return m.q4_symmetric ? DType::F32 : DType::U8;
}

std::vector<uint8_t> export_quantized_weight(const PackedMatrix& m) {
  stored_scale_dtype(m);  // refuses float formats
  const int kp = m.in_padded;
  const size_t pb = panel_bytes(m.format, kp);
  std::vector<uint8_t> weight;
  if (m.format == WeightFormat::Q8) {
    weight.assign(size_t(m.out) * m.in, 0);
    std::vector<int8_t> q(kp);
    for (int o = 0; o < m.out; ++o) {
      read_q8_row(o % kPanel, m.data.data() + pb * (o / kPanel), kp, q.data());
      std::memcpy(weight.data() + size_t(o) * m.in, q.data(), size_t(m.in));
    }
    return weight;
  }
  const size_t row_bytes = size_t(kp) / 2;
  weight.assign(size_t(m.out) * row_bytes, 0);
  std::vector<uint8_t> padding(row_bytes * kPanel);  // where a last panel's padding rows go
  for (int p = 0; p < m.panels(); ++p) {
    uint8_t* rows[kPanel];
    for (int r = 0; r < kPanel; ++r) {
      const int o = p * kPanel + r;
      rows[r] = o < m.out ? weight.data() + size_t(o) * row_bytes : padding.data() + size_t(r) * row_bytes;
    }
    read_q4_panel(m.q4_layout, m.data.data() + pb * p, kp, rows);
  }
  return weight;
}

std::vector<uint8_t> export_quantized_scale(const PackedMatrix& m) {
  const DType dtype = stored_scale_dtype(m);
  const int blocks = m.blocks();
  std::vector<uint8_t> out;
  if (dtype != DType::U8) {  // q8's fp16 values, or symmetric q4's f32 ones
    const size_t size = dtype_size(dtype);
    out.resize(size_t(m.out) * blocks * size);
    for (int o = 0; o < m.out; ++o)
      for (int b = 0; b < blocks; ++b) {
        const float s = panel_scale(m, o, b);
        const uint16_t h = f32_to_f16(s);
        std::memcpy(out.data() + (size_t(o) * blocks + b) * size, size == 2 ? static_cast<const void*>(&h) : &s, size);
      }
    return out;
  }
  const int supers = super_blocks(m.in);
  out.resize(size_t(m.out) * supers * quant::kQ4KScaleBytes);
  for (int o = 0; o < m.out; ++o)
    for (int s = 0; s < supers; ++s) {
      const int b0 = s * quant::kSubBlocks, n = std::min(quant::kSubBlocks, blocks - b0);
      float scales[quant::kSubBlocks], mins[quant::kSubBlocks];
      for (int i = 0; i < n; ++i) scales[i] = panel_scale(m, o, b0 + i), mins[i] = panel_min(m, o, b0 + i);
      quant::Q4KSuper super;
      if (!q4_k_codes(scales, n, &super.d, super.sc) || !q4_k_codes(mins, n, &super.dmin, super.m))
        fail(ErrorCode::Internal, "export: row ", o, " of a q4 matrix has block scales no Q4_K codes give");
      quant::store_q4_k_scales(super, out.data() + (size_t(o) * supers + s) * quant::kQ4KScaleBytes);
    }
  return out;
}

void unpack_row(const PackedMatrix& m, int row, float* out) {
  const int p = row / kPanel, r = row % kPanel;
  const uint8_t* base = m.data.data() + m.panel_bytes() * p;
  for (int k = 0; k < m.in; ++k) {
    switch (m.format) {
      case WeightFormat::F32: out[k] = reinterpret_cast<const float*>(base)[size_t(k) * kPanel + r]; break;
      case WeightFormat::BF16:
        out[k] = bf16_to_f32(reinterpret_cast<const uint16_t*>(base)[size_t(k) * kPanel + r]);
        break;
      case WeightFormat::Q8:
        out[k] = float(q8_value(r, base[q8_offset(r, k)])) * panel_scale(m, row, k / kQuantBlock);
        break;
      case WeightFormat::Q4:  // quant::dequantize_q4_k's order
        out[k] = panel_scale(m, row, k / kQuantBlock) * float(q4_code(m.q4_layout, base, r, k)) -
                 panel_min(m, row, k / kQuantBlock);
        break;
    }
  }
}

}  // namespace kyutai
