#include "common/acl/signing_interceptor.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <string>
#include <utility>
#include <vector>

#include "common/acl/method_rules.h"

namespace mq::acl {
namespace {

using grpc::experimental::InterceptionHookPoints;

class SigningInterceptor : public grpc::experimental::Interceptor {
 public:
  SigningInterceptor(const Credentials* credentials, const Clock* clock, std::string method,
                     bool unary)
      : credentials_(credentials), clock_(clock), method_(std::move(method)), unary_(unary) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::vector<Resource> resources;
      const MethodRule* rule = FindRule(method_);
      // A unary call sends its request with its metadata: sign over the
      // resources it names. A stream's metadata goes first, signed alone.
      if (rule != nullptr && !rule->resources.empty() && unary_ &&
          methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
        const auto* request =
            static_cast<const google::protobuf::Message*>(methods->GetSendMessage());
        if (request != nullptr) resources = ResourcesOf(ExtractResources(*rule, *request));
      }
      std::multimap<std::string, std::string>* metadata = methods->GetSendInitialMetadata();
      for (auto& [key, value] : SignCall(*credentials_, method_, resources, clock_->Now())) {
        metadata->emplace(std::move(key), std::move(value));
      }
    }
    methods->Proceed();
  }

 private:
  const Credentials* const credentials_;
  const Clock* const clock_;
  const std::string method_;
  const bool unary_;
};

class SigningInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  SigningInterceptorFactory(Credentials credentials, const Clock* clock)
      : credentials_(std::move(credentials)), clock_(clock) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new SigningInterceptor(&credentials_, clock_, info->method(),
                                  info->type() == grpc::experimental::ClientRpcInfo::Type::UNARY);
  }

 private:
  const Credentials credentials_;
  const Clock* const clock_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> NewSigningInterceptorFactory(
    Credentials credentials, const Clock* clock) {
  return std::make_unique<SigningInterceptorFactory>(std::move(credentials), clock);
}

}  // namespace mq::acl
