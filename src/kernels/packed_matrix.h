// Weight matrices in the layout the matrix-vector kernels stream fastest.
//
// A linear layer y = W x with W [out, in] is stored as panels of kPanel = 16 output rows.
// Within a panel the weights of all 16 rows for one input index are adjacent, so a panel is
// one sequential read and each input value is broadcast once per 16 outputs (the "axpy" form
// that reached 93% of DRAM bandwidth here, ../shared/notes/gemv-anchors.md).
//
// Quantized formats keep that order for small groups of inputs (pairs, or fours for Q4's Bytes
// order), because the integer dot products multiply and add adjacent pairs. Both have a scale
// per (row, block of kQuantBlock = 32 inputs), 16 floats per panel and block
// (PackedMatrix::block_scales), and meet activations quantized per block of 32 too (gemm.h):
//   Q8: the Q8_0 scheme (llama.cpp, candle): the block's absmax / 127 rounded to fp16, so a
//       file stores it in 16 bits (8.5 bits per weight) and loads it exactly. Per k-pair 32
//       bytes, read as two vectors of 8 little-endian 16-bit lanes: lane 2i + (k % 2) of vector
//       h holds row 8h + i in its low byte, stored as q + 128, and row 8h + 4 + i in its high
//       byte, stored as q (see q8_offset). The lane read as a signed integer is then
//       low + 256 high exactly. A block's 16 k-pairs are followed by its 16 scales as f32, so a
//       panel is one stream (9 bits per weight in memory): with the scales in a stream of their
//       own, cold q8 GEMVs took 1.09-1.17x the time (2048x5632, 5632x2048, 2048x2048; Node,
//       AMD EPYC VM, 3 alternating rounds).
//   Q4: the Q4_K scheme (quant_blocks.h): w = s c - mn with codes c in 0..15 and, per block, a
//       scale s = d sc and a min mn = dmin m (6-bit codes under fp16 d, dmin per 256 inputs; a
//       file stores them in 4.5 bits per weight). In memory s and mn are f32, exact (a 6-bit
//       code times an fp16 has at most 17 significant bits): per panel and block the 16 rows'
//       s, then their 16 mn, in `scales` (6 bits per weight in all). The codes take 256 bytes
//       per block and panel in one of two orders (Q4Layout), picked at load for the kernel the
//       build runs (preferred_q4_layout). Files of stored layouts 1 and 2 held symmetric blocks,
//       w = s (c - 8): they load as mn = 8 s (`q4_symmetric`).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "io/dtype.h"
#include "kernels/quant_blocks.h"

namespace kyutai {

enum class WeightFormat { F32, BF16, Q8, Q4 };

// The order of the nibbles inside a Q4 block (see q4_offset):
//   Lanes (SIMD128's i32x4.dot_i16x8_s): per k-pair 16 bytes, read as 8 little-endian 16-bit
//     lanes: lane 2i + (k % 2) holds rows i, 4 + i, 8 + i and 12 + i from its low nibble up.
//     Rows 0..11 store c; rows 12..15 store c - 8 as a two's-complement nibble, so the lane
//     read as a signed integer is exact for the kernel's shifts.
//   Bytes (relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s, which multiplies adjacent byte
//     pairs): per 4 inputs 32 bytes, two vectors; byte 4i + j of vector h holds row 8h + i in
//     its low nibble and row 8h + 4 + i in its high one, for input 4s + j, all as c (0..15,
//     the operand's 7-bit unsigned range).
enum class Q4Layout { Lanes, Bytes };

const char* weight_format_name(WeightFormat f);
bool parse_weight_format(const std::string& name, WeightFormat* out);

constexpr int kPanel = 16;
constexpr int kQuantBlock = 32;
constexpr int kQ4BlockScales = 2 * kPanel;  // floats per Q4 panel and block: 16 scales, then 16 mins

// Bytes of one panel's weights (kPanel rows of in_padded inputs) in `format`.
size_t panel_bytes(WeightFormat format, int in_padded);

// Produces rows [row, row + count) of W as float32, row-major with `in` columns. Lets packing
// convert a bf16/f16 tensor a panel at a time instead of holding a float copy of the matrix.
using RowReader = void (*)(const void* source, int row, int count, int in, float* out);

class NativeLinear;  // backend-specific prepared operator (XNNPACK), native builds only
class ThreadPool;

struct PackedMatrix {
  int out = 0;
  int in = 0;
  WeightFormat format = WeightFormat::F32;
  Q4Layout q4_layout = Q4Layout::Lanes;  // Q4 only
  bool q4_symmetric = false;             // Q4 loaded from a layout-1/2 file: every mn = 8 s
  int in_padded = 0;                     // inputs rounded up to the format's block size
  AlignedBuffer<uint8_t> data;           // panels, see above
  AlignedBuffer<float> scales;           // Q4: [panels][blocks][32] (Q8's are in `data`)
  std::shared_ptr<NativeLinear> native;  // when set, products go through it

  int panels() const { return (out + kPanel - 1) / kPanel; }
  size_t panel_bytes() const { return kyutai::panel_bytes(format, in_padded); }
  int blocks() const { return in_padded / kQuantBlock; }
  // The 16 rows' scales of block b of panel p (Q8, Q4), then for Q4 their mins.
  const float* block_scales(int p, int b) const;
  float* block_scales(int p, int b);
  // Bytes a product streams (a native operator holds its own f32 copy).
  size_t bytes() const { return native ? size_t(out) * in * 4 : data.bytes() + scales.bytes(); }
};

// The Q4 layout this build's fastest kernel reads (gemm.cpp): Bytes where relaxed SIMD is
// linked in, else Lanes. Every kernel reads both; the scalar one is the reference for both.
Q4Layout preferred_q4_layout();

// Packs W [out, in] read through `reader`. Q8 rounds to nearest, ties to even; Q4 quantizes
// each 256 inputs with quant::quantize_q4_k, trying `q4_search_steps` scales per block. With a
// pool, its threads pack disjoint panels (the reader is called from each: it must be safe to).
PackedMatrix pack_matrix(WeightFormat format, int out, int in, RowReader reader, const void* source,
                         Q4Layout q4_layout = preferred_q4_layout(), int q4_search_steps = quant::kQ4KSearchSteps,
                         ThreadPool* pool = nullptr);
PackedMatrix pack_matrix_f32(WeightFormat format, int out, int in, const float* rows,
                             Q4Layout q4_layout = preferred_q4_layout(), int q4_search_steps = quant::kQ4KSearchSteps,
                             ThreadPool* pool = nullptr);

// Pre-quantized tensors as a converted file stores them, `weight` and its `scale`:
//   Q8: weight I8 [out, in]; scale F16 [out, ceil(in/32)] (Q8_0).
//   Q4: weight U8 [out, ceil(in/32) * 16], two codes c per byte, low nibble first; scale U8
//       [out, ceil(in/256) * 16], each super-block's d, dmin and codes (quant::store_q4_k_scales);
//       or, in files of stored layouts 1 and 2, F32 [out, ceil(in/32)]: symmetric, mn = 8 s.
// The columns a scale tensor of `dtype` has for this format, or -1 when the format has no such
// scale tensor.
int64_t stored_scale_columns(WeightFormat format, DType dtype, int in);
// With a pool, its threads place disjoint panels.
PackedMatrix pack_prequantized(WeightFormat format, int out, int in, const uint8_t* weight, DType scale_dtype,
                               const uint8_t* scale, Q4Layout q4_layout = preferred_q4_layout(),
                               ThreadPool* pool = nullptr);
// Its two halves, for a loader that meets a weight before its scale (a file's tensors come in
// name order, "w.weight" before "w.weight_scale"): the codes placed, scales zero; then the
// scales set (checked against the format as pack_prequantized does).
PackedMatrix pack_prequantized_codes(WeightFormat format, int out, int in, const uint8_t* weight,
                                     Q4Layout q4_layout = preferred_q4_layout(), ThreadPool* pool = nullptr);
void set_prequantized_scales(PackedMatrix& m, DType scale_dtype, const uint8_t* scale, ThreadPool* pool = nullptr);
// The inverse: the tensors a converted file stores (Q4 as Q4_K, or symmetric F32 scales when it
// was loaded so). Q4 scales that no Q4_K codes give are refused (Internal): pack_matrix and the
// loader only make ones that do.
DType stored_scale_dtype(const PackedMatrix& m);
std::vector<uint8_t> export_quantized_weight(const PackedMatrix& m);
std::vector<uint8_t> export_quantized_scale(const PackedMatrix& m);

// A Q8 panel is its blocks one after the other, each kQ8BlockWeights bytes of weights (16
// k-pairs) and then its 16 rows' scales as f32.
constexpr size_t kQ8BlockWeights = size_t(kQuantBlock) * kPanel;
constexpr size_t kQ8BlockBytes = kQ8BlockWeights + kPanel * sizeof(float);

// Byte offset of (row r within a Q8 panel, input k).
inline size_t q8_offset(int r, int k) {
  return size_t(k / kQuantBlock) * kQ8BlockBytes + size_t(k % kQuantBlock / 2) * 32 + size_t(r / 8) * 16 +
         size_t((r % 4) * 2 + k % 2) * 2 + (r % 8) / 4;
}

// The byte a Q8 panel stores for value q of row r, and back.
inline uint8_t q8_stored_byte(int r, int q) { return uint8_t(r % 8 < 4 ? q + 128 : q); }
inline int q8_value(int r, uint8_t stored) { return r % 8 < 4 ? int(stored) - 128 : int(int8_t(stored)); }

// Byte offset of (row r within a Q4 panel, input k) and which nibble of it (0 low, 1 high).
inline size_t q4_offset(Q4Layout layout, int r, int k, int* high) {
  if (layout == Q4Layout::Bytes) {
    *high = (r / 4) % 2;
    return size_t(k / 4) * 32 + size_t(r / 8) * 16 + size_t(r % 4) * 4 + k % 4;
  }
  const int slot = r / 4;  // nibble position within the 16-bit lane
  *high = slot % 2;
  return size_t(k / 2) * 16 + size_t((r % 4) * 2 + k % 2) * 2 + slot / 2;
}

// The nibble a Q4 panel stores for row r given code c, and back (the map is its own inverse).
inline uint8_t q4_stored_nibble(Q4Layout layout, int r, uint8_t code) {
  return layout == Q4Layout::Lanes && r >= 12 ? uint8_t(code ^ 8) : code;
}
// The code c of (row r, input k), `panel` pointing at a Q4 panel (or at one of its blocks, with
// k counted within the block).
inline uint8_t q4_code(Q4Layout layout, const uint8_t* panel, int r, int k) {
  int high;
  const uint8_t byte = panel[q4_offset(layout, r, k, &high)];
  return q4_stored_nibble(layout, r, high ? uint8_t(byte >> 4) : uint8_t(byte & 0x0f));
}
const char* q4_layout_name(Q4Layout layout);

// Reconstructs row `row` as float32 (tests, accuracy reports, WebGPU upload).
void unpack_row(const PackedMatrix& m, int row, float* out);

}  // namespace kyutai
