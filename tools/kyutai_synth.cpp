// Writes a synthetic checkpoint: Kyutai's exact tensor names and shapes (split layout) filled
// with deterministic pseudo-random values (src/lm/synthetic_checkpoint.h), streamed tensor by
// tensor, so real-shape benchmark models need no download and little memory.
//
//   kyutai_synth [--kind lm|mimi|voice] [--config config.json] --out model.safetensors
//                [--dtype f32|bf16|f16] [--seed 1] [--shards N] [--header-only] [--frames 125]
//
// --kind lm      (default) the LM of --config (STT, TTS with its conditioners and cross-attention,
//                Moshi): every tensor LMModel.state_dict() has.
// --kind mimi    the Mimi codec of --config (Kyutai's _mimi_config form), by default the released one.
// --kind voice   a voice in the kyutai/tts-voices format for the TTS LM of --config: "speaker_wavs"
//                [1, C, --frames] with C its speaker conditioner's dim (512 for the release).
//
// --shards N     writes Hugging Face's sharded layout next to --out instead of one file:
//                <stem>-0000k-of-0000N.safetensors (tensors in order, about equal bytes each)
//                and <stem>.safetensors.index.json {"metadata": {"total_size"}, "weight_map"}.
//                The values are the same as in the single file (each tensor has its own seed).
// --header-only  writes the real header(s) and leaves the data as a hole of the right size
//                (a sparse file of zeros): enough for footprint checks and for tests of a
//                loader that must refuse a model after its header, at no disk or time cost.
//
// tools/configs/ holds configs of the released shapes (STT 1B, TTS 1.6B, Moshi 7B) and of a 2.6B model.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "codec/mimi.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "lm/lm_config.h"
#include "lm/synthetic_checkpoint.h"
#include "read_file.h"

using namespace kyutai;
namespace fs = std::filesystem;

namespace {

int usage() {
  std::cerr << "usage: kyutai_synth [--kind lm|mimi|voice] [--config config.json] --out model.safetensors\n"
               "                    [--dtype f32|bf16|f16] [--seed N] [--shards N] [--header-only] [--frames N]\n";
  return 2;
}

// What to write: the declared tensors, in file order, and the law of their values.
struct Source {
  std::vector<WeightLoader::Expected> tensors;
  ValueLaw law;
};

Source lm_source(const std::string& config_path) {
  return {synthetic_lm_specs(LmConfig::parse(tools::read_file(config_path), config_path)), synthetic_lm_value_law};
}

Source mimi_source(const std::string& config_path) {
  const std::string text = config_path.empty() ? released_mimi_config_json() : tools::read_file(config_path);
  LoadOptions options;
  options.use_xnnpack = false;
  Mimi mimi(MimiConfig::parse(text, config_path.empty() ? "released Mimi config" : config_path), options);
  WeightLoader loader(options);
  mimi.declare_weights(loader);
  return {loader.expected(), synthetic_codec_value_law};
}

Source voice_source(const std::string& config_path, int frames) {
  LmConfig config = LmConfig::parse(tools::read_file(config_path), config_path);
  return {{synthetic_voice_tensor(config, frames)}, synthetic_voice_value_law};
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One output file: its tensors (offsets relative to its own data section).
struct Shard {
  std::string path;
  std::vector<TensorInfo> tensors;
  uint64_t data_bytes = 0;
};

// Splits the tensors, in order, into `n` files of about equal data size (none empty).
std::vector<Shard> plan(const std::vector<TensorInfo>& all, int n, const std::string& out_path) {
  std::vector<Shard> shards(size_t(std::max(1, n)));
  if (n <= 1) {
    shards[0].path = out_path;
  } else {
    fs::path out(out_path);
    std::string stem = out.stem().string();  // "model" for model.safetensors
    for (int k = 0; k < n; ++k) {
      char name[64];
      std::snprintf(name, sizeof name, "-%05d-of-%05d.safetensors", k + 1, n);
      shards[size_t(k)].path = (out.parent_path() / (stem + name)).string();
    }
  }
  const uint64_t total = all.empty() ? 0 : all.back().end;
  size_t k = 0;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t left = all.size() - i;
    // Move on when this shard has its share, or when the remaining tensors are just enough
    // to give each remaining shard one.
    if (!shards[k].tensors.empty() && k + 1 < shards.size() &&
        (cumulative >= total / shards.size() * (k + 1) || left <= shards.size() - k - 1))
      ++k;
    TensorInfo t = all[i];
    const uint64_t size = t.end - t.begin;
    t.begin = shards[k].data_bytes;
    t.end = t.begin + size;
    shards[k].data_bytes = t.end;
    shards[k].tensors.push_back(std::move(t));
    cumulative += size;
  }
  return shards;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, out_path, dtype_name = "f32", kind = "lm";
  uint64_t seed = 1;
  int shard_count = 1, frames = 125;
  bool header_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--header-only") {
      header_only = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (flag == "--config") config_path = value;
    else if (flag == "--out") out_path = value;
    else if (flag == "--dtype") dtype_name = value;
    else if (flag == "--seed") seed = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--shards") shard_count = std::atoi(value.c_str());
    else if (flag == "--kind") kind = value;
    else if (flag == "--frames") frames = std::atoi(value.c_str());
    else return usage();
  }
  if ((config_path.empty() && kind != "mimi") || out_path.empty() || shard_count < 1) return usage();
  try {
    DType dtype;
    std::string upper;
    for (char c : dtype_name) upper += char(std::toupper(static_cast<unsigned char>(c)));
    if (!parse_dtype(upper, &dtype) || (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16))
      fail(ErrorCode::InvalidArgument, "--dtype must be f32, bf16 or f16, got '", dtype_name, "'");
    Source source;
    if (kind == "lm") source = lm_source(config_path);
    else if (kind == "mimi") source = mimi_source(config_path);
    else if (kind == "voice") source = voice_source(config_path, frames);
    else fail(ErrorCode::InvalidArgument, "--kind must be lm, mimi or voice, got '", kind, "'");
    const std::vector<TensorInfo> all = synthetic_tensor_infos(source.tensors, dtype);
    if (size_t(shard_count) > all.size())
      fail(ErrorCode::InvalidArgument, "--shards ", shard_count, " exceeds the ", all.size(),
           " tensors of this config");
    std::vector<Shard> shards = plan(all, shard_count, out_path);

    // Every file is written under a temporary name and renamed when complete, so an
    // interrupted run never leaves a file that looks whole.
    size_t bytes = 0, tensors = 0, shard = 0, in_shard = 0;
    std::ofstream out;
    auto open_shard = [&](size_t k) {
      out = std::ofstream(shards[k].path + ".tmp", std::ios::binary | std::ios::trunc);
      if (!out) fail(ErrorCode::InvalidArgument, "cannot write ", shards[k].path);
      std::vector<uint8_t> header = safetensors_header_bytes(shards[k].tensors);
      out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
      bytes += header.size();
    };
    auto close_shard = [&](size_t k) {
      out.close();
      if (!out) fail(ErrorCode::Internal, "writing ", shards[k].path, " failed");
      const std::string tmp = shards[k].path + ".tmp";
      if (header_only) {
        // The data section as a hole: the file has its full size but occupies no blocks.
        const uint64_t header = fs::file_size(tmp);
        fs::resize_file(tmp, header + shards[k].data_bytes);
        bytes += shards[k].data_bytes;
      }
      fs::rename(tmp, shards[k].path);
    };
    if (header_only) {
      for (size_t k = 0; k < shards.size(); ++k) {
        open_shard(k);
        close_shard(k);
        tensors += shards[k].tensors.size();
      }
    } else {
      open_shard(0);
      generate_synthetic(source.tensors, dtype, seed, source.law, [&](const TensorInfo& t, const uint8_t* b) {
        if (in_shard == shards[shard].tensors.size()) {
          close_shard(shard);
          open_shard(++shard);
          in_shard = 0;
        }
        if (shards[shard].tensors[in_shard].name != t.name)
          fail(ErrorCode::Internal, "generator order changed at tensor '", t.name, "'");
        out.write(reinterpret_cast<const char*>(b), std::streamsize(t.byte_size()));
        bytes += t.byte_size();
        ++tensors;
        ++in_shard;
      });
      close_shard(shard);
    }

    uint64_t parameters = 0;
    for (const TensorInfo& t : all) parameters += t.numel();
    std::string files = "[";
    for (size_t k = 0; k < shards.size(); ++k) files += (k ? ", " : "") + json_string(shards[k].path);
    files += "]";
    std::string index_path;
    if (shards.size() > 1) {
      // Hugging Face's index: tensor name -> file name (relative to the index), sorted by name.
      fs::path out(out_path);
      index_path = (out.parent_path() / (out.stem().string() + ".safetensors.index.json")).string();
      std::vector<std::pair<std::string, std::string>> map;
      for (const auto& s : shards)
        for (const auto& t : s.tensors) map.emplace_back(t.name, fs::path(s.path).filename().string());
      std::sort(map.begin(), map.end());
      std::ofstream index(index_path + ".tmp", std::ios::binary | std::ios::trunc);
      index << "{\n  \"metadata\": {\"total_size\": " << (all.empty() ? 0 : all.back().end)
            << "},\n  \"weight_map\": {\n";
      for (size_t i = 0; i < map.size(); ++i)
        index << "    " << json_string(map[i].first) << ": " << json_string(map[i].second)
              << (i + 1 < map.size() ? ",\n" : "\n");
      index << "  }\n}\n";
      index.close();
      if (!index) fail(ErrorCode::Internal, "writing ", index_path, " failed");
      fs::rename(index_path + ".tmp", index_path);
    }
    std::cout << "{\"out\": " << json_string(shards.size() > 1 ? index_path : out_path) << ", \"files\": " << files
              << ", \"tensors\": " << tensors << ", \"bytes\": " << bytes << ", \"parameters\": " << parameters
              << ", \"header_only\": " << (header_only ? "true" : "false") << "}\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "kyutai_synth: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "kyutai_synth: " << e.what() << "\n";
    return 1;
  }
}
