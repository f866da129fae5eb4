// A minimal client of gRPC's server reflection service (v1alpha, which gRPC
// 1.51 serves), doing what `grpcurl list` and `grpcurl describe` do.
#ifndef MQ_TESTING_REFLECTION_CLIENT_H_
#define MQ_TESTING_REFLECTION_CLIENT_H_

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mq::testing {

// Names of the services the server lists.
absl::StatusOr<std::vector<std::string>> ListServices(std::shared_ptr<grpc::Channel> channel);

// The file descriptors the server returns for a fully qualified symbol (the
// file defining it and its dependencies).
absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> FileContainingSymbol(
    std::shared_ptr<grpc::Channel> channel, const std::string& symbol);

}  // namespace mq::testing

#endif  // MQ_TESTING_REFLECTION_CLIENT_H_
