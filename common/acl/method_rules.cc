#include "common/acl/method_rules.h"

#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"

namespace mq::acl {
namespace {

using Type = Resource::Type;

ResourceField Topic(std::string path, Need need) { return {Type::kTopic, std::move(path), need}; }
ResourceField Group(std::string path) { return {Type::kGroup, std::move(path), Need::kSub}; }

const std::map<std::string, MethodRule, std::less<>>& Table() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, MethodRule, std::less<>>;
    auto add = [t](absl::string_view service, absl::string_view method, MethodRule rule) {
      t->emplace(absl::StrCat("/", service, "/", method), std::move(rule));
    };
    const MethodRule open{Access::kOpen, {}};
    const MethodRule authenticated{Access::kAuthenticated, {}};
    const MethodRule admin{Access::kAdmin, {}};
    const MethodRule cluster{Access::kCluster, {}};
    auto resources = [](std::vector<ResourceField> fields) {
      return MethodRule{Access::kResources, std::move(fields)};
    };

    constexpr absl::string_view kBroker = "mq.broker.v1.Broker";
    add(kBroker, "SendMessage", resources({Topic("message.topic", Need::kPub)}));
    add(kBroker, "SendBatch", resources({Topic("topic", Need::kPub)}));
    // Authenticated when the stream opens; each send's topic is checked as
    // it arrives (Authorizer::CheckResources).
    add(kBroker, "SendMessageStream", authenticated);
    add(kBroker, "PullMessage", resources({Topic("topic", Need::kSub), Group("consumer_group")}));
    add(kBroker, "Heartbeat",
        resources(
            {Group("consumers.group_name"), Topic("consumers.subscriptions.topic", Need::kSub)}));
    add(kBroker, "UnregisterClient", authenticated);
    add(kBroker, "GetConsumerList", resources({Group("consumer_group")}));
    add(kBroker, "QueryConsumerOffset",
        resources({Topic("topic", Need::kSub), Group("consumer_group")}));
    add(kBroker, "UpdateConsumerOffset",
        resources({Topic("topic", Need::kSub), Group("consumer_group")}));
    add(kBroker, "ConsumerSendBack", resources({Group("consumer_group")}));
    add(kBroker, "LockBatchQueues",
        resources({Group("consumer_group"), Topic("queues.topic", Need::kSub)}));
    add(kBroker, "UnlockBatchQueues",
        resources({Group("consumer_group"), Topic("queues.topic", Need::kSub)}));
    add(kBroker, "GetConsumeStats", admin);
    add(kBroker, "GetProducerConnections", admin);
    add(kBroker, "ListConsumerGroups", admin);
    add(kBroker, "GetQueueOffsets", resources({Topic("topic", Need::kSub)}));
    add(kBroker, "SearchOffset", resources({Topic("topic", Need::kSub)}));
    add(kBroker, "CreateOrUpdateTopic", admin);
    add(kBroker, "DeleteTopic", admin);
    add(kBroker, "GetAllTopicConfigs", admin);
    add(kBroker, "GetTopicStats", admin);
    add(kBroker, "QueryMessageById", resources({Topic("topic", Need::kSub)}));
    add(kBroker, "QueryMessageByKey", resources({Topic("topic", Need::kSub)}));
    add(kBroker, "ViewMessageByOffsetId", admin);
    add(kBroker, "GetRuntimeStats", admin);
    // The request names no topic: RocketMQ checks none either.
    add(kBroker, "EndTransaction", authenticated);
    add(kBroker, "ProducerChannel", authenticated);
    add(kBroker, "CreateOrUpdateSubscriptionGroup", admin);
    add(kBroker, "DeleteSubscriptionGroup", admin);
    add(kBroker, "GetAllSubscriptionGroups", admin);
    add(kBroker, "ListDeadLetters", admin);
    add(kBroker, "ResendDeadLetters", admin);
    for (absl::string_view method :
         {"PopMessage", "AckMessage", "ChangeInvisibleTime", "ForwardToDeadLetter"}) {
      add(kBroker, method, resources({Topic("topic", Need::kSub), Group("consumer_group")}));
    }

    constexpr absl::string_view kNameServer = "mq.namesrv.v1.NameServer";
    add(kNameServer, "RegisterBroker", cluster);
    add(kNameServer, "UnregisterBroker", cluster);
    add(kNameServer, "GetRouteInfoByTopic", open);
    add(kNameServer, "GetClusterInfo", open);
    add(kNameServer, "GetAllTopics", open);
    add(kNameServer, "DeleteTopic", admin);

    constexpr absl::string_view kStore = "mq.store.v1.Store";
    for (absl::string_view method :
         {"AppendBatch", "GetMessages", "GetQueueOffsets", "GetOffsetByTime", "QueryByKey",
          "QueryByUniqueId", "GetMessageByOffset", "GetMetadata", "PutMetadata", "ListMetadata",
          "DeleteTopic", "WatchQueues", "Replicate", "GetStats"}) {
      add(kStore, method, cluster);
    }

    constexpr absl::string_view kAcl = "mq.acl.v1.AclAdmin";
    for (absl::string_view method :
         {"CreateUser", "UpdateUser", "DeleteUser", "ListUsers", "Grant", "Revoke"}) {
      add(kAcl, method, admin);
    }
    add(kAcl, "ExportUsers", cluster);
    return t;
  }();
  return *table;
}

// Appends the string values at `path` under `message` to `out`.
void Collect(const google::protobuf::Message& message, const std::vector<absl::string_view>& path,
             size_t at, std::vector<std::string>* out) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const google::protobuf::FieldDescriptor* field =
      descriptor->FindFieldByName(std::string(path[at]));
  if (field == nullptr) return;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const bool last = at + 1 == path.size();
  if (field->is_repeated()) {
    const int n = reflection->FieldSize(message, field);
    for (int i = 0; i < n; ++i) {
      if (last && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        out->push_back(reflection->GetRepeatedString(message, field, i));
      } else if (!last && field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
        Collect(reflection->GetRepeatedMessage(message, field, i), path, at + 1, out);
      }
    }
  } else if (last && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
    out->push_back(reflection->GetString(message, field));
  } else if (!last && field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
    Collect(reflection->GetMessage(message, field), path, at + 1, out);
  }
}

}  // namespace

const MethodRule* FindRule(absl::string_view method) {
  const auto& table = Table();
  auto it = table.find(method);
  return it == table.end() ? nullptr : &it->second;
}

std::vector<std::string> RuledMethods() {
  std::vector<std::string> methods;
  for (const auto& [method, rule] : Table()) methods.push_back(method);
  return methods;
}

std::vector<NeededResource> ExtractResources(const MethodRule& rule,
                                             const google::protobuf::Message& request) {
  std::vector<NeededResource> needed;
  for (const ResourceField& field : rule.resources) {
    std::vector<absl::string_view> path = absl::StrSplit(field.path, '.');
    std::vector<std::string> names;
    Collect(request, path, 0, &names);
    for (std::string& name : names) {
      if (!name.empty()) needed.push_back({{field.type, std::move(name)}, field.need});
    }
  }
  return needed;
}

std::vector<Resource> ResourcesOf(const std::vector<NeededResource>& needed) {
  std::vector<Resource> resources;
  resources.reserve(needed.size());
  for (const NeededResource& n : needed) resources.push_back(n.resource);
  return resources;
}

std::string MethodOfRequest(const google::protobuf::Message& request) {
  static const auto* by_request = [] {
    auto* map = new absl::flat_hash_map<std::string, std::string>;
    const google::protobuf::DescriptorPool* pool =
        google::protobuf::DescriptorPool::generated_pool();
    for (const std::string& method : RuledMethods()) {
      // "/pkg.Service/Method"
      std::vector<std::string> parts = absl::StrSplit(method.substr(1), '/');
      const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(parts[0]);
      if (service == nullptr) continue;
      const google::protobuf::MethodDescriptor* m = service->FindMethodByName(parts[1]);
      if (m == nullptr) continue;
      auto [it, inserted] = map->emplace(m->input_type()->full_name(), method);
      // A request type of several methods names none.
      if (!inserted) it->second.clear();
    }
    return map;
  }();
  auto it = by_request->find(request.GetDescriptor()->full_name());
  return it == by_request->end() ? std::string() : it->second;
}

}  // namespace mq::acl
