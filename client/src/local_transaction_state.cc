#include "mq/transaction_producer.h"

namespace mq {

absl::string_view LocalTransactionStateName(LocalTransactionState state) {
  switch (state) {
    case LocalTransactionState::kCommitMessage:
      return "COMMIT_MESSAGE";
    case LocalTransactionState::kRollbackMessage:
      return "ROLLBACK_MESSAGE";
    case LocalTransactionState::kUnknown:
      break;
  }
  return "UNKNOW";
}

}  // namespace mq
