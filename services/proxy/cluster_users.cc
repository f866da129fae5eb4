#include "services/proxy/cluster_users.h"

#include <glog/logging.h>

#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace mq::proxy {

absl::Status ClusterUsers::Refresh() {
  absl::StatusOr<acl::v1::UserTable> table = backend_->ExportUsers();
  if (!table.ok()) return table.status();
  // Deterministic: equal tables serialize alike, so an unchanged table is
  // not handed over again.
  std::string serialized;
  {
    google::protobuf::io::StringOutputStream stream(&serialized);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    table->SerializeToCodedStream(&coded);
  }
  absl::MutexLock lock(&mu_);
  if (loaded_ && serialized == last_) return absl::OkStatus();
  authorizer_->SetUsers(*table);
  LOG(INFO) << "acl: " << table->users_size() << " users loaded from the brokers";
  last_ = std::move(serialized);
  loaded_ = true;
  return absl::OkStatus();
}

}  // namespace mq::proxy
