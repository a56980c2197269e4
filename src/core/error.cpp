#include "core/error.h"

namespace kyutai {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::InvalidCheckpoint: return "INVALID_CHECKPOINT";
    case ErrorCode::InvalidConfig: return "INVALID_CONFIG";
    case ErrorCode::LimitExceeded: return "LIMIT_EXCEEDED";
    case ErrorCode::Unsupported: return "UNSUPPORTED";
    case ErrorCode::InvalidState: return "INVALID_STATE";
    case ErrorCode::Internal: return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace kyutai
