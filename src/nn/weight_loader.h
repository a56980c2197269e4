// Name -> destination registry through which every checkpoint tensor flows. A model first
// declares each tensor it needs (name, shape, where it goes); tensors are then fed one at a
// time in file order, converted straight into their final format (packed f32 / bf16 / q8 /
// q4), so a checkpoint is never held whole. Validation happens here, once, with messages
// naming the tensor: unknown, missing, mis-shaped, wrong dtype.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "kernels/packed_matrix.h"
#include "nn/embedding_table.h"
#include "nn/kv_cache.h"
#include "nn/linear.h"
#include "nn/norm.h"

namespace kyutai {

// Candidate scales per block when loading converts to q4: 0 keeps the min-max grid, its
// least-squares refits and the search over neighbouring 6-bit codes. On Student-t weights in
// Node: 76 M weights/s at relative RMSE .0859, against 27 M/s and .0847 for the converter's 24
// steps; the load's weights still meet issue 31's Q4_K figures (quant_accuracy_test.cpp).
inline constexpr int kQ4KLoadSearchSteps = 0;

struct LoadOptions {
  // Format of linear weights; nullopt keeps the checkpoint's precision (f32 stays f32,
  // bf16 stays bf16, f16 becomes f32). Pre-quantized tensors keep their own format.
  std::optional<WeightFormat> format;
  bool use_xnnpack = true;  // native builds: f32 products through XNNPACK
  int threads = 1;
  // Rows of the streaming sessions' KV caches (the LM's temporal transformer).
  KvFormat kv_cache = KvFormat::F32;
  // A NaN or infinite weight is refused at load (naming the tensor) unless this is set.
  bool allow_non_finite = false;
  // Candidate scales per block when q4 is quantized here (quant::quantize_q4_k). Loading
  // converts the whole model, so it tries fewer than the converter (kyutai_convert).
  int q4_search_steps = kQ4KLoadSearchSteps;
};

// The layout of the pre-quantized weights a converted file stores, in its metadata under
// kStoredLayoutKey (export_weights writes it). Files written before the key existed hold
// layout 1. Layout 2 stores q8 as Q8_0 blocks (an fp16 scale per 32 inputs) where layout 1 had
// one f32 scale per row; layout 3 stores q4 as Q4_K (asymmetric blocks, 4.5 bits per weight)
// where layouts 1 and 2 had symmetric blocks with an f32 scale, which still load (the scale
// tensor's dtype tells them apart, packed_matrix.h). A file of another layout, or a layout-1
// file holding q8 weights, is refused at its header, saying to convert the original checkpoint
// again.
inline constexpr const char* kStoredLayoutKey = "kyutai_wasm.layout";
inline constexpr int kStoredLayout = 3;
void check_stored_layout(const SafetensorsHeader& header);

class WeightLoader {
 public:
  // With a pool (the model's), converting float weights to a packed format splits each matrix's
  // panels over its threads.
  explicit WeightLoader(LoadOptions options, ThreadPool* pool = nullptr) : options_(std::move(options)), pool_(pool) {}

  // `name` without the ".weight" suffix. Accepts float tensors [out, in], or pre-quantized
  // ones (I8 -> q8, U8 -> q4) with a sibling "<name>.weight_scale".
  void linear(const std::string& name, int out, int in, Linear* dst, bool with_bias = false);
  // A set of per-step linears stored either as `split_name(i)` each, or concatenated along
  // dim 0 under `concat_name` (Kyutai's released in_proj_weight / out_proj.weight layout).
  void linear_set(const std::string& concat_name, std::function<std::string(int)> split_name, int sets, int out, int in,
                  std::vector<Linear>* dst);
  // Small float tensors kept as f32 vectors (norm gains, biases, layer scales).
  void vector(const std::string& name, std::vector<int64_t> shape, std::vector<float>* dst);
  void norm(const std::string& prefix, NormKind kind, int dim, Norm* dst);
  void table(const std::string& name, int rows, int width, EmbeddingTable* dst);
  // Tensors a released file holds that this configuration does not use.
  void ignore(const std::string& name);

  // What the declared model expects, in the split (state-dict) layout: the specification a
  // synthetic checkpoint generator writes. Optional and alternative-layout names excluded.
  enum class Kind { Linear, Vector, Table };
  struct Expected {
    std::string name;
    std::vector<int64_t> shape;
    Kind kind;
  };
  std::vector<Expected> expected() const;

  // After loading: every declared destination by tensor name (split layout), for tools that
  // re-export a loaded model (the quantizing converter). `target` is a Linear*, a
  // std::vector<float>* or an EmbeddingTable* according to `kind`.
  void visit(const std::function<void(const std::string& name, Kind kind, const void* target,
                                      const std::vector<int64_t>& shape)>& fn) const;

  // A loaded tensor by name, for consumers that need the weights themselves (the WebGPU
  // backend uploads them; the converter re-exports them).
  struct TensorRef {
    std::string name;
    Kind kind;
    const void* target;  // Linear*, std::vector<float>* or EmbeddingTable*
    std::vector<int64_t> shape;
  };
  std::vector<TensorRef> directory() const;

  // Before a tensor's bytes are buffered: refuses an undeclared, repeated or oversized tensor
  // (more bytes than its declared shape takes in f32); false when its bytes are not needed.
  bool check(const TensorInfo& info) const;
  void add(const TensorInfo& info, const uint8_t* bytes);
  // A chunked reader feeding this loader, checking each tensor before its bytes are buffered.
  std::unique_ptr<SafetensorsStream> stream(SafetensorsStream::HeaderCallback on_header = nullptr);
  // Throws naming every missing tensor.
  void finish();

  const LoadOptions& options() const { return options_; }
  size_t tensors_loaded() const { return loaded_; }

 private:
  struct Entry {
    std::function<void(const TensorInfo&, const uint8_t*)> load;
    bool done = false;
    std::string group;  // entries satisfied together (linear sets: split or concatenated)
    std::vector<int64_t> shape;
    Kind kind = Kind::Vector;
    const void* target = nullptr;
    uint64_t max_bytes = 0;  // 0: no bound (a tensor whose bytes are not read)
    bool needs_bytes = true;
  };
  const Entry& entry(const TensorInfo& info) const;
  // `max_bytes` bounds an entry without a shape (0: none); a shaped one takes 4 bytes a value.
  Entry& declare(const std::string& name, std::function<void(const TensorInfo&, const uint8_t*)> load,
                 const std::string& group = "", std::vector<int64_t> shape = {}, Kind kind = Kind::Vector,
                 const void* target = nullptr, uint64_t max_bytes = 0);
  void load_linear(const std::string& name, int out, int in, Linear* dst, const TensorInfo& info, const uint8_t* bytes);
  void load_scale(const std::string& name, int out, int in, Linear* dst, const TensorInfo& info, const uint8_t* bytes);
  static void check_scale(WeightFormat format, int out, int in, const TensorInfo& scale);
  WeightFormat target_format(DType source) const;
  PackedMatrix pack_float(const TensorInfo& info, const uint8_t* bytes, int row_offset, int out, int in) const;

  LoadOptions options_;
  ThreadPool* pool_ = nullptr;  // not owned
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::vector<uint8_t>> pending_scales_;  // "x.weight_scale" waiting for "x.weight"
  std::map<std::string, TensorInfo> pending_info_;              // their headers
  std::map<std::string, PackedMatrix> pending_codes_;           // "x.weight" placed, waiting for its scale
  size_t loaded_ = 0;
};

}  // namespace kyutai
