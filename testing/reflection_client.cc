#include "testing/reflection_client.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/str_cat.h"

namespace mq::testing {

namespace {

// Field numbers of grpc.reflection.v1alpha.ServerReflectionRequest/Response.
constexpr int kRequestFileContainingSymbol = 4;
constexpr int kRequestListServices = 7;
constexpr int kResponseFileDescriptorResponse = 4;
constexpr int kResponseListServicesResponse = 6;
constexpr int kResponseErrorResponse = 7;
constexpr int kListServiceResponseService = 1;
constexpr int kServiceResponseName = 1;
constexpr int kFileDescriptorResponseFile = 1;
constexpr int kErrorResponseMessage = 2;

std::string EncodeStringField(int field, const std::string& value) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  google::protobuf::internal::WireFormatLite::WriteString(field, value, &coded);
  coded.Trim();
  return out;
}

// Sends one request and returns the serialized response, or the server's error.
absl::StatusOr<std::string> Call(std::shared_ptr<grpc::Channel> channel,
                                 const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](intptr_t expected) {
    return cq.Next(&tag, &ok) && reinterpret_cast<intptr_t>(tag) == expected && ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(1)) return absl::UnavailableError("cannot start the reflection call");
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  if (!step(2)) return absl::UnavailableError("cannot send the reflection request");
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  bool read_ok = step(3);
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!read_ok) {
    return absl::UnavailableError(absl::StrCat("no reflection response: ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  in.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return absl::DataLossError("bad reflection response");
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == kResponseErrorResponse) {
      google::protobuf::UnknownFieldSet error;
      error.ParseFromString(fields.field(i).length_delimited());
      for (int j = 0; j < error.field_count(); ++j) {
        if (error.field(j).number() == kErrorResponseMessage) {
          return absl::NotFoundError(error.field(j).length_delimited());
        }
      }
      return absl::NotFoundError("reflection error");
    }
  }
  return bytes;
}

// The length-delimited values of `field` inside the embedded message `outer`.
std::vector<std::string> Nested(const std::string& message, int outer, int field) {
  google::protobuf::UnknownFieldSet fields;
  fields.ParseFromString(message);
  std::vector<std::string> values;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() != outer) continue;
    google::protobuf::UnknownFieldSet inner;
    inner.ParseFromString(fields.field(i).length_delimited());
    for (int j = 0; j < inner.field_count(); ++j) {
      if (inner.field(j).number() == field) values.push_back(inner.field(j).length_delimited());
    }
  }
  return values;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListServices(std::shared_ptr<grpc::Channel> channel) {
  absl::StatusOr<std::string> response =
      Call(channel, EncodeStringField(kRequestListServices, "*"));
  if (!response.ok()) return response.status();
  std::vector<std::string> names;
  for (const std::string& service :
       Nested(*response, kResponseListServicesResponse, kListServiceResponseService)) {
    google::protobuf::UnknownFieldSet fields;
    fields.ParseFromString(service);
    for (int i = 0; i < fields.field_count(); ++i) {
      if (fields.field(i).number() == kServiceResponseName) {
        names.push_back(fields.field(i).length_delimited());
      }
    }
  }
  return names;
}

absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> FileContainingSymbol(
    std::shared_ptr<grpc::Channel> channel, const std::string& symbol) {
  absl::StatusOr<std::string> response =
      Call(channel, EncodeStringField(kRequestFileContainingSymbol, symbol));
  if (!response.ok()) return response.status();
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const std::string& bytes :
       Nested(*response, kResponseFileDescriptorResponse, kFileDescriptorResponseFile)) {
    google::protobuf::FileDescriptorProto file;
    if (!file.ParseFromString(bytes)) return absl::DataLossError("bad file descriptor");
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace mq::testing
