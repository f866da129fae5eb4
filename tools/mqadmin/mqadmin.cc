// mqadmin: administration from the command line, after RocketMQ's tool of the
// same name. `mqadmin` lists the commands; `mqadmin <command> --help` explains
// one. Exit status: 0 on success, 1 when the command failed, 2 for bad usage;
// failures print one line, "mqadmin: <command>: <CODE>: <reason>", to stderr.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/src/broker_connections.h"
#include "client/src/pulled_message.h"
#include "common/units.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "mq/message.h"
#include "mq/producer.h"
#include "mq/pull_consumer.h"
#include "proto/acl.pb.h"
#include "tools/mqadmin/admin_client.h"
#include "tools/mqadmin/command_line.h"

namespace mq {
namespace tools {
namespace {

constexpr absl::string_view kProgram = "mqadmin";
constexpr absl::Duration kRpcTimeout = absl::Seconds(5);
// Body bytes a printed message shows at most.
constexpr size_t kMaxPrintedBodyBytes = 4096;
// Largest uncompressed body accepted in a query answer.
constexpr size_t kMaxBodyBytes = 64_MiB;

// RocketMQ's updateTopic defaults.
constexpr int64_t kDefaultQueueNums = 8;
constexpr int64_t kDefaultPerm = 6;

const OptionSpec kNameServer = {'n', "namesrvAddr", "ADDR",
                                "name servers, HOST:PORT[;HOST:PORT] (default: $NAMESRV_ADDR)"};
// Access control: every command takes the keys its calls are signed with.
const OptionSpec kAccessKey = {'A', "accessKey", "AK",
                               "access key to sign the calls with (default: $MQ_ACCESS_KEY)"};
const OptionSpec kSecretKey = {
    'S', "secretKey", "SK",
    "its secret key (default: $MQ_SECRET_KEY, better: a command line is visible to others)"};

// Every command that takes -n takes these too: how the servers are dialed.
const std::vector<OptionSpec> kTlsOptions = {
    {0, "tls", "", "dial the name servers and brokers over TLS"},
    {0, "tlsCaFile", "FILE",
     "with --tls: PEM CAs the servers' certificates must chain to "
     "(default: the system's roots)"},
    {0, "tlsCertFile", "FILE", "with --tls: this client's PEM certificate (mutual TLS)"},
    {0, "tlsKeyFile", "FILE", "with --tls: the PEM key of --tlsCertFile"},
    {0, "tlsSkipVerify", "", "with --tls: do not check the servers' certificates"},
};

using CommandFn = std::function<absl::Status(const ParsedOptions&)>;

struct Command {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;
  CommandFn run;
};

std::vector<std::string> NameServers(const ParsedOptions& options) {
  std::string list = options.Get("namesrvAddr");
  if (list.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    if (env != nullptr) list = env;
  }
  return absl::StrSplit(list, absl::ByAnyChar(";,"), absl::SkipWhitespace());
}

std::string OptionOrEnv(const ParsedOptions& options, absl::string_view name, const char* env) {
  if (options.Has(name)) return options.Get(name);
  const char* value = std::getenv(env);
  return value == nullptr ? std::string() : std::string(value);
}

acl::Credentials CredentialsOf(const ParsedOptions& options) {
  return {OptionOrEnv(options, "accessKey", "MQ_ACCESS_KEY"),
          OptionOrEnv(options, "secretKey", "MQ_SECRET_KEY")};
}

TlsOptions Tls(const ParsedOptions& options) {
  TlsOptions tls;
  tls.enabled = options.Has("tls");
  tls.ca_file = options.Get("tlsCaFile");
  tls.cert_file = options.Get("tlsCertFile");
  tls.key_file = options.Get("tlsKeyFile");
  tls.verify_server = !options.Has("tlsSkipVerify");
  return tls;
}

AdminClient Admin(const ParsedOptions& options) {
  return AdminClient(NameServers(options), kRpcTimeout, client_internal::ChannelTls(Tls(options)),
                     CredentialsOf(options));
}

ClientOptions ClientOptionsFor(const ParsedOptions& options) {
  ClientOptions client;
  client.name_server_addresses = NameServers(options);
  client.tls = Tls(options);
  client.instance_name = absl::StrCat("mqadmin-", getpid());
  acl::Credentials credentials = CredentialsOf(options);
  client.access_key = credentials.access_key;
  client.secret_key = credentials.secret_key;
  return client;
}

std::string FormatMillis(int64_t ms) {
  if (ms <= 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::FromUnixMillis(ms), absl::LocalTimeZone());
}

absl::StatusOr<int32_t> IntOption(const ParsedOptions& options, absl::string_view name,
                                  int64_t fallback) {
  absl::StatusOr<int64_t> value = options.GetInt(name, fallback);
  if (!value.ok()) return value.status();
  return static_cast<int32_t>(*value);
}

void PrintMessage(const MessageExt& m) {
  std::string body = m.message.body();
  if (body.size() > kMaxPrintedBodyBytes) {
    body = absl::StrCat(body.substr(0, kMaxPrintedBodyBytes), "... (", m.message.body().size(),
                        " bytes)");
  }
  std::vector<std::string> properties;
  for (const auto& [key, value] : m.message.properties()) {
    properties.push_back(absl::StrCat(key, "=", value));
  }
  std::cout << absl::StrFormat("%-20s %s\n", "Message ID:", m.msg_id)
            << absl::StrFormat("%-20s %s\n", "Offset Message ID:", m.offset_msg_id)
            << absl::StrFormat("%-20s %s\n", "Topic:", m.message.topic())
            << absl::StrFormat("%-20s %s\n", "Tags:", m.message.tags())
            << absl::StrFormat("%-20s %s\n", "Keys:", m.message.keys())
            << absl::StrFormat("%-20s %s#%d\n", "Queue:", m.broker_name, m.queue_id)
            << absl::StrFormat("%-20s %d\n", "Queue Offset:", m.queue_offset)
            << absl::StrFormat("%-20s %d\n", "CommitLog Offset:", m.commit_log_offset)
            << absl::StrFormat("%-20s %d\n", "Reconsume Times:", m.reconsume_times)
            << absl::StrFormat("%-20s %s\n", "Born Timestamp:", FormatMillis(m.born_timestamp_ms))
            << absl::StrFormat("%-20s %s\n", "Store Timestamp:", FormatMillis(m.store_timestamp_ms))
            << absl::StrFormat("%-20s %s\n", "Born Host:", m.born_host)
            << absl::StrFormat("%-20s %s\n", "Store Host:", m.store_host)
            << absl::StrFormat("%-20s %s\n", "Properties:", absl::StrJoin(properties, ", "))
            << absl::StrFormat("%-20s %s\n\n", "Body:", body);
}

// Prints the messages of a query answer; the broker name is not in the answer.
absl::Status PrintQueried(const broker::v1::QueryMessageResponse& response,
                          const std::string& broker_name) {
  for (const common::v1::MessageExt& wire : response.messages()) {
    absl::StatusOr<MessageExt> ext =
        client_internal::ToMessageExt(wire, broker_name, kMaxBodyBytes);
    if (!ext.ok()) return ext.status();
    PrintMessage(*ext);
  }
  return absl::OkStatus();
}

absl::Status ClusterList(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<namesrv::v1::GetClusterInfoResponse> info = admin.GetClusterInfo();
  if (!info.ok()) return info.status();
  std::cout << absl::StrFormat("%-16s %-20s %-4s %-22s %-10s %-10s %-12s %s\n", "#Cluster Name",
                               "#Broker Name", "#BID", "#Addr", "#InTPS", "#OutTPS", "#Messages",
                               "#Disk Used");
  std::map<std::string, std::vector<std::string>> clusters;
  for (const auto& [cluster, brokers] : info->cluster_addr_table()) {
    clusters[cluster].assign(brokers.broker_names().begin(), brokers.broker_names().end());
  }
  for (auto& [cluster, names] : clusters) {
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      auto data = info->broker_addr_table().find(name);
      if (data == info->broker_addr_table().end()) continue;
      std::map<int64_t, std::string> addrs(data->second.broker_addrs().begin(),
                                           data->second.broker_addrs().end());
      for (const auto& [id, address] : addrs) {
        broker::v1::GetRuntimeStatsResponse stats;
        absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::GetRuntimeStats,
                                         broker::v1::GetRuntimeStatsRequest(), &stats);
        if (status.ok()) {
          std::cout << absl::StrFormat("%-16s %-20s %-4d %-22s %-10.2f %-10.2f %-12d %.1f%%\n",
                                       cluster, name, id, address, stats.put_tps(), stats.get_tps(),
                                       stats.total_put_messages(), stats.disk_used_ratio() * 100);
        } else {
          std::cout << absl::StrFormat("%-16s %-20s %-4d %-22s %s\n", cluster, name, id, address,
                                       absl::StrCat("(", status.message(), ")"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status TopicList(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> topics = admin.GetAllTopics();
  if (!topics.ok()) return topics.status();
  for (const std::string& topic : *topics) std::cout << topic << "\n";
  return absl::OkStatus();
}

absl::Status TopicRoute(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<common::v1::TopicRouteData> route = admin.GetRoute(options.Get("topic"));
  if (!route.ok()) return route.status();
  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  json.always_print_primitive_fields = true;
  std::string text;
  if (auto s = google::protobuf::util::MessageToJsonString(*route, &text, json); !s.ok()) {
    return absl::InternalError(std::string(s.message()));
  }
  std::cout << text << "\n";
  return absl::OkStatus();
}

// The brokers a command addresses: -b BROKER_ADDR, or every master of -c CLUSTER.
absl::StatusOr<std::vector<std::string>> TargetBrokers(AdminClient& admin,
                                                       const ParsedOptions& options) {
  if (options.Has("brokerAddr")) return std::vector<std::string>{options.Get("brokerAddr")};
  if (options.Has("clusterName")) return admin.MasterAddresses(options.Get("clusterName"));
  return absl::InvalidArgumentError("give -b BROKER_ADDR or -c CLUSTER");
}

absl::Status UpdateTopic(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  common::v1::TopicConfig config;
  config.set_topic_name(options.Get("topic"));
  absl::StatusOr<int32_t> read = IntOption(options, "readQueueNums", kDefaultQueueNums);
  absl::StatusOr<int32_t> write = IntOption(options, "writeQueueNums", kDefaultQueueNums);
  absl::StatusOr<int32_t> perm = IntOption(options, "perm", kDefaultPerm);
  for (const auto* value : {&read, &write, &perm}) {
    if (!value->ok()) return value->status();
  }
  config.set_read_queue_nums(*read);
  config.set_write_queue_nums(*write);
  config.set_perm(static_cast<uint32_t>(*perm));
  config.set_order(options.Has("order"));
  // RocketMQ's form: "+message.type=FIFO", several separated by commas.
  for (absl::string_view entry :
       absl::StrSplit(options.Get("attributes"), ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    absl::ConsumePrefix(&entry, "+");
    std::pair<std::string, std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (absl::Status valid = ValidateTopicAttribute(kv.first, kv.second); !valid.ok()) {
      return valid;
    }
    (*config.mutable_attributes())[kv.first] = absl::AsciiStrToUpper(kv.second);
  }
  absl::StatusOr<std::vector<std::string>> targets = TargetBrokers(admin, options);
  if (!targets.ok()) return targets.status();
  for (const std::string& address : *targets) {
    broker::v1::CreateOrUpdateTopicRequest request;
    *request.mutable_config() = config;
    broker::v1::CreateOrUpdateTopicResponse response;
    absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::CreateOrUpdateTopic,
                                     request, &response);
    if (!status.ok()) return status;
    std::cout << "create topic to " << address << " success.\n";
  }
  std::vector<std::string> attributes;
  for (const auto& [key, value] : config.attributes()) {
    attributes.push_back(absl::StrCat("+", key, "=", value));
  }
  std::sort(attributes.begin(), attributes.end());
  std::cout << absl::StrFormat(
      "TopicConfig [topicName=%s, readQueueNums=%d, writeQueueNums=%d, perm=%d, order=%s, "
      "attributes={%s}]\n",
      config.topic_name(), config.read_queue_nums(), config.write_queue_nums(), config.perm(),
      config.order() ? "true" : "false", absl::StrJoin(attributes, ","));
  return absl::OkStatus();
}

absl::Status DeleteTopic(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  const std::string topic = options.Get("topic");
  const std::string cluster = options.Get("clusterName");
  absl::StatusOr<std::vector<std::string>> masters = admin.MasterAddresses(cluster);
  if (!masters.ok()) return masters.status();
  int deleted = 0;
  for (const std::string& address : *masters) {
    broker::v1::DeleteTopicRequest request;
    request.set_topic(topic);
    broker::v1::DeleteTopicResponse response;
    absl::Status status =
        CallBroker(admin, address, &broker::v1::Broker::Stub::DeleteTopic, request, &response);
    if (status.ok()) {
      ++deleted;
    } else if (status.code() != absl::StatusCode::kNotFound) {
      return status;
    }
  }
  absl::Status routes = admin.DeleteTopicInNameServers(topic, cluster);
  // With access control, a separate name server knows only the cluster's
  // identity; the brokers' re-registration (at once after a delete) drops
  // the route there anyway.
  const bool refused = routes.code() == absl::StatusCode::kUnauthenticated ||
                       routes.code() == absl::StatusCode::kPermissionDenied;
  if (!routes.ok() && !((routes.code() == absl::StatusCode::kNotFound || refused) && deleted > 0)) {
    if (routes.code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("topic ", topic, " does not exist"));
    }
    return routes;
  }
  std::cout << absl::StrFormat("delete topic [%s] from cluster [%s] success.\n", topic,
                               cluster.empty() ? "*" : cluster);
  return absl::OkStatus();
}

absl::Status TopicStatus(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  const std::string topic = options.Get("topic");
  absl::StatusOr<common::v1::TopicRouteData> route = admin.GetRoute(topic);
  if (!route.ok()) return route.status();
  std::cout << absl::StrFormat("%-24s %-5s %-16s %-16s %s\n", "#Broker Name", "#QID", "#Min Offset",
                               "#Max Offset", "#Last Updated");
  for (const auto& [name, address] : AdminClient::RouteMasters(*route)) {
    broker::v1::GetTopicStatsRequest request;
    request.set_topic(topic);
    broker::v1::GetTopicStatsResponse response;
    absl::Status status =
        CallBroker(admin, address, &broker::v1::Broker::Stub::GetTopicStats, request, &response);
    if (!status.ok()) return status;
    std::vector<broker::v1::QueueStats> queues(response.queues().begin(), response.queues().end());
    std::sort(queues.begin(), queues.end(), [](const auto& a, const auto& b) {
      return a.queue().queue_id() < b.queue().queue_id();
    });
    for (const broker::v1::QueueStats& q : queues) {
      std::cout << absl::StrFormat("%-24s %-5d %-16d %-16d %s\n", name, q.queue().queue_id(),
                                   q.min_offset(), q.max_offset(),
                                   FormatMillis(q.last_update_timestamp_ms()));
    }
  }
  return absl::OkStatus();
}

absl::Status SendMessage(const ParsedOptions& options) {
  ProducerOptions producer_options;
  producer_options.client = ClientOptionsFor(options);
  Producer producer("mqadmin_producer", producer_options);
  if (absl::Status s = producer.Start(); !s.ok()) return s;
  Message message(options.Get("topic"), options.Get("tags"), options.Get("keys"),
                  options.Get("body"));
  absl::StatusOr<SendResult> result;
  if (options.Has("brokerName") != options.Has("queueId")) {
    return absl::InvalidArgumentError("-b BROKER_NAME and -i QUEUE_ID go together");
  }
  if (options.Has("brokerName")) {
    absl::StatusOr<int32_t> queue_id = IntOption(options, "queueId", 0);
    if (!queue_id.ok()) return queue_id.status();
    result = producer.Send(
        message, MessageQueue{options.Get("topic"), options.Get("brokerName"), *queue_id});
  } else {
    result = producer.Send(message);
  }
  producer.Shutdown();
  if (!result.ok()) return result.status();
  std::cout << absl::StrFormat("%-24s %-5s %-20s %s\n", "#Broker Name", "#QID", "#Send Result",
                               "#MsgId")
            << absl::StrFormat("%-24s %-5d %-20s %s\n", result->message_queue.broker_name,
                               result->message_queue.queue_id, SendStatusName(result->status),
                               result->msg_id);
  return absl::OkStatus();
}

absl::Status ConsumeMessage(const ParsedOptions& options) {
  absl::StatusOr<int64_t> count = options.GetInt("count", 128);
  if (!count.ok()) return count.status();
  absl::StatusOr<int64_t> start = options.GetInt("offset", -1);
  if (!start.ok()) return start.status();
  absl::StatusOr<int64_t> queue_filter = options.GetInt("queueId", -1);
  if (!queue_filter.ok()) return queue_filter.status();
  PullConsumerOptions consumer_options;
  consumer_options.client = ClientOptionsFor(options);
  PullConsumer consumer(options.Get("consumerGroup", "mqadmin_consumer"), consumer_options);
  if (absl::Status s = consumer.Start(); !s.ok()) return s;
  absl::StatusOr<std::vector<MessageQueue>> queues =
      consumer.FetchSubscribeQueues(options.Get("topic"));
  if (!queues.ok()) return queues.status();
  int64_t printed = 0;
  for (const MessageQueue& queue : *queues) {
    if (options.Has("brokerName") && queue.broker_name != options.Get("brokerName")) continue;
    if (*queue_filter >= 0 && queue.queue_id != *queue_filter) continue;
    int64_t offset = *start;
    if (offset < 0) {
      absl::StatusOr<int64_t> min = consumer.MinOffset(queue);
      if (!min.ok()) return min.status();
      offset = *min;
    }
    bool moved = false;
    while (printed < *count) {
      absl::StatusOr<PullResult> result = consumer.Pull(
          queue, "*", offset, static_cast<int32_t>(std::min<int64_t>(32, *count - printed)));
      if (!result.ok()) return result.status();
      if (result->status == PullStatus::kOffsetIllegal && !moved) {
        offset = result->next_begin_offset;
        moved = true;
        continue;
      }
      for (const MessageExt& m : result->messages) {
        PrintMessage(m);
        ++printed;
      }
      if (result->status != PullStatus::kFound || result->next_begin_offset == offset) break;
      offset = result->next_begin_offset;
    }
  }
  consumer.Shutdown();
  std::cout << "Consumed " << printed << " message(s).\n";
  return absl::OkStatus();
}

// "a.b.c.d:port" from an offset message id (hex of IPv4, port, offset).
absl::StatusOr<std::string> BrokerOfOffsetMsgId(const std::string& id) {
  if (id.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("message id ", id,
                     " is not an offset message id (32 hex characters); give -t TOPIC to "
                     "look it up as a unique id"));
  }
  uint32_t ip = 0, port = 0;
  if (!absl::SimpleHexAtoi(id.substr(0, 8), &ip) || !absl::SimpleHexAtoi(id.substr(8, 8), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("message id ", id, " is not hexadecimal"));
  }
  return absl::StrFormat("%d.%d.%d.%d:%d", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff,
                         port);
}

absl::Status QueryMsgById(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  const std::string id = options.Get("msgId");
  int found = 0;
  if (options.Has("topic")) {
    const std::string topic = options.Get("topic");
    absl::StatusOr<common::v1::TopicRouteData> route = admin.GetRoute(topic);
    if (!route.ok()) return route.status();
    for (const auto& [name, address] : AdminClient::RouteMasters(*route)) {
      broker::v1::QueryMessageByIdRequest request;
      request.set_topic(topic);
      request.set_msg_id(id);
      broker::v1::QueryMessageResponse response;
      absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::QueryMessageById,
                                       request, &response);
      if (status.code() == absl::StatusCode::kNotFound) continue;
      if (!status.ok()) return status;
      if (absl::Status s = PrintQueried(response, name); !s.ok()) return s;
      found += response.messages_size();
    }
  } else {
    absl::StatusOr<std::string> address = BrokerOfOffsetMsgId(id);
    if (!address.ok()) return address.status();
    broker::v1::ViewMessageByOffsetIdRequest request;
    request.set_offset_msg_id(id);
    broker::v1::QueryMessageResponse response;
    absl::Status status = CallBroker(
        admin, *address, &broker::v1::Broker::Stub::ViewMessageByOffsetId, request, &response);
    if (!status.ok()) return status;
    if (absl::Status s = PrintQueried(response, ""); !s.ok()) return s;
    found += response.messages_size();
  }
  if (found == 0) return absl::NotFoundError(absl::StrCat("message ", id, " not found"));
  return absl::OkStatus();
}

absl::Status QueryMsgByKey(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  const std::string topic = options.Get("topic");
  absl::StatusOr<int64_t> begin = options.GetInt("beginTimestamp", 0);
  absl::StatusOr<int64_t> end = options.GetInt(
      "endTimestamp", absl::ToUnixMillis(absl::Now()) + absl::ToInt64Milliseconds(absl::Hours(1)));
  absl::StatusOr<int64_t> max = options.GetInt("maxNum", 32);
  for (const auto* value : {&begin, &end, &max}) {
    if (!value->ok()) return value->status();
  }
  absl::StatusOr<common::v1::TopicRouteData> route = admin.GetRoute(topic);
  if (!route.ok()) return route.status();
  std::cout << absl::StrFormat("%-34s %-24s %-5s %-10s %s\n", "#Message ID", "#Broker Name", "#QID",
                               "#Offset", "#Store Time");
  int found = 0;
  for (const auto& [name, address] : AdminClient::RouteMasters(*route)) {
    broker::v1::QueryMessageByKeyRequest request;
    request.set_topic(topic);
    request.set_key(options.Get("msgKey"));
    request.set_max_num(static_cast<int32_t>(*max));
    request.set_begin_timestamp_ms(*begin);
    request.set_end_timestamp_ms(*end);
    broker::v1::QueryMessageResponse response;
    absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::QueryMessageByKey,
                                     request, &response);
    if (status.code() == absl::StatusCode::kNotFound) continue;
    if (!status.ok()) return status;
    for (const common::v1::MessageExt& m : response.messages()) {
      std::cout << absl::StrFormat("%-34s %-24s %-5d %-10d %s\n", m.msg_id(), name, m.queue_id(),
                                   m.queue_offset(), FormatMillis(m.store_timestamp_ms()));
      ++found;
    }
  }
  if (found == 0) {
    return absl::NotFoundError(
        absl::StrCat("no message with key ", options.Get("msgKey"), " in topic ", topic));
  }
  return absl::OkStatus();
}

absl::Status BrokerStatus(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets = TargetBrokers(admin, options);
  if (!targets.ok()) return targets.status();
  for (const std::string& address : *targets) {
    broker::v1::GetRuntimeStatsResponse s;
    absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::GetRuntimeStats,
                                     broker::v1::GetRuntimeStatsRequest(), &s);
    if (!status.ok()) return status;
    std::map<std::string, std::string> rows(s.extra().begin(), s.extra().end());
    rows["brokerName"] = s.broker_name();
    rows["clusterName"] = s.cluster_name();
    rows["brokerId"] = absl::StrCat(s.broker_id());
    rows["brokerRole"] = s.role();
    rows["putTps"] = absl::StrFormat("%.2f", s.put_tps());
    rows["getTps"] = absl::StrFormat("%.2f", s.get_tps());
    rows["commitLogMinOffset"] = absl::StrCat(s.commit_log_min_offset());
    rows["commitLogMaxOffset"] = absl::StrCat(s.commit_log_max_offset());
    rows["diskUsedRatio"] = absl::StrFormat("%.4f", s.disk_used_ratio());
    rows["totalPutMessages"] = absl::StrCat(s.total_put_messages());
    rows["totalGetMessages"] = absl::StrCat(s.total_get_messages());
    rows["startTime"] = FormatMillis(s.start_timestamp_ms());
    if (targets->size() > 1) std::cout << "[" << address << "]\n";
    for (const auto& [key, value] : rows) std::cout << absl::StrFormat("%-32s: %s\n", key, value);
  }
  return absl::OkStatus();
}

// consumerProgress without -g: every group any master knows, as RocketMQ's
// mqadmin lists them.
absl::Status ListConsumerGroups(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> masters = admin.MasterAddresses("");
  if (!masters.ok()) return masters.status();
  struct Row {
    int online = 0;
    int64_t diff = 0;
    std::set<std::string> topics;
  };
  std::map<std::string, Row> rows;
  for (const std::string& address : *masters) {
    broker::v1::ListConsumerGroupsResponse response;
    absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::ListConsumerGroups,
                                     broker::v1::ListConsumerGroupsRequest(), &response);
    if (!status.ok()) return status;
    for (const broker::v1::ConsumerGroupSummary& group : response.groups()) {
      Row& row = rows[group.consumer_group()];
      // A client heartbeats to every broker: count it once.
      row.online = std::max(row.online, group.online_clients());
      row.diff += group.diff_total();
      row.topics.insert(group.topics().begin(), group.topics().end());
    }
  }
  std::cout << absl::StrFormat("%-32s %-8s %-12s %s\n", "#Group", "#Online", "#Diff Total",
                               "#Topics");
  for (const auto& [group, row] : rows) {
    std::cout << absl::StrFormat("%-32s %-8d %-12d %s\n", group, row.online, row.diff,
                                 row.topics.empty() ? "-" : absl::StrJoin(row.topics, ","));
  }
  std::cout << rows.size() << " consumer group(s).\n";
  return absl::OkStatus();
}

absl::Status ConsumerProgress(const ParsedOptions& options) {
  if (!options.Has("consumerGroup")) return ListConsumerGroups(options);
  AdminClient admin = Admin(options);
  const std::string group = options.Get("consumerGroup");
  absl::StatusOr<std::vector<std::string>> masters = admin.MasterAddresses("");
  if (!masters.ok()) return masters.status();
  std::vector<broker::v1::QueueConsumeStats> rows;
  int64_t diff_total = 0;
  std::vector<std::string> members;
  for (const std::string& address : *masters) {
    broker::v1::GetConsumeStatsRequest request;
    request.set_consumer_group(group);
    request.set_topic(options.Get("topic"));
    broker::v1::GetConsumeStatsResponse response;
    absl::Status status =
        CallBroker(admin, address, &broker::v1::Broker::Stub::GetConsumeStats, request, &response);
    if (status.code() == absl::StatusCode::kNotFound) continue;
    if (!status.ok()) return status;
    rows.insert(rows.end(), response.queues().begin(), response.queues().end());
    diff_total += response.diff_total();
    broker::v1::GetConsumerListRequest list_request;
    list_request.set_consumer_group(group);
    broker::v1::GetConsumerListResponse list;
    if (CallBroker(admin, address, &broker::v1::Broker::Stub::GetConsumerList, list_request, &list)
            .ok()) {
      for (const std::string& id : list.client_ids()) {
        if (std::find(members.begin(), members.end(), id) == members.end()) members.push_back(id);
      }
    }
  }
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("consumer group ", group, " has no consume offsets on any broker"));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    auto key = [](const broker::v1::QueueConsumeStats& q) {
      return std::make_tuple(q.queue().topic(), q.queue().broker_name(), q.queue().queue_id());
    };
    return key(a) < key(b);
  });
  std::cout << absl::StrFormat("%-24s %-20s %-5s %-14s %-16s %-10s %s\n", "#Topic", "#Broker Name",
                               "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime");
  for (const broker::v1::QueueConsumeStats& q : rows) {
    std::cout << absl::StrFormat("%-24s %-20s %-5d %-14d %-16d %-10d %s\n", q.queue().topic(),
                                 q.queue().broker_name(), q.queue().queue_id(), q.broker_offset(),
                                 q.consumer_offset(), q.broker_offset() - q.consumer_offset(),
                                 FormatMillis(q.last_timestamp_ms()));
  }
  std::sort(members.begin(), members.end());
  std::cout << "\nConsumers online: "
            << (members.empty() ? std::string("none") : absl::StrJoin(members, ", ")) << "\n"
            << "Diff Total: " << diff_total << "\n";
  return absl::OkStatus();
}

absl::Status ProducerConnection(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  const std::string group = options.Get("producerGroup");
  absl::StatusOr<std::vector<std::string>> masters = admin.MasterAddresses("");
  if (!masters.ok()) return masters.status();
  std::cout << absl::StrFormat("%-44s %-10s %-10s %-22s %s\n", "#ClientId", "#Language", "#Version",
                               "#Broker", "#LastHeartbeat");
  int count = 0;
  for (const std::string& address : *masters) {
    broker::v1::GetProducerConnectionsRequest request;
    request.set_producer_group(group);
    broker::v1::GetProducerConnectionsResponse response;
    absl::Status status = CallBroker(
        admin, address, &broker::v1::Broker::Stub::GetProducerConnections, request, &response);
    if (!status.ok()) return status;
    for (const broker::v1::ProducerConnection& c : response.connections()) {
      std::cout << absl::StrFormat(
          "%-44s %-10s %-10s %-22s %s\n", c.client_id(), c.language().empty() ? "-" : c.language(),
          c.version().empty() ? "-" : c.version(), address, FormatMillis(c.last_heartbeat_ms()));
      ++count;
    }
  }
  if (count == 0) {
    return absl::NotFoundError(absl::StrCat("producer group ", group, " has no live producer"));
  }
  return absl::OkStatus();
}

// ---- Consumer retry and dead-letter queues ----

// "true"/"false" option `name`, or `fallback` when absent.
absl::StatusOr<bool> BoolOption(const ParsedOptions& options, absl::string_view name,
                                bool fallback) {
  if (!options.Has(name)) return fallback;
  const std::string value = options.Get(name);
  if (value == "true") return true;
  if (value == "false") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " is \"", value, "\": expected true or false"));
}

// The group's config on the broker at `address`, if it has one.
absl::StatusOr<std::optional<broker::v1::SubscriptionGroupConfig>> FindSubGroup(
    AdminClient& admin, const std::string& address, const std::string& group) {
  broker::v1::GetAllSubscriptionGroupsResponse all;
  absl::Status status =
      CallBroker(admin, address, &broker::v1::Broker::Stub::GetAllSubscriptionGroups,
                 broker::v1::GetAllSubscriptionGroupsRequest(), &all);
  if (!status.ok()) return status;
  for (const broker::v1::SubscriptionGroupConfig& config : all.configs()) {
    if (config.group_name() == group) return std::optional(config);
  }
  return std::optional<broker::v1::SubscriptionGroupConfig>();
}

void PrintSubGroup(const std::string& address, const broker::v1::SubscriptionGroupConfig& c) {
  std::cout << absl::StrFormat(
      "%-22s %-32s %-9s %-11s %-10s %-9s %s\n", address, c.group_name(),
      c.consume_enable() ? "true" : "false", c.consume_broadcast_enable() ? "true" : "false",
      absl::StrCat(c.retry_queue_nums()), absl::StrCat(c.retry_max_times()),
      c.consume_message_orderly() ? "true" : "false");
}

void PrintSubGroupHeader() {
  std::cout << absl::StrFormat("%-22s %-32s %-9s %-11s %-10s %-9s %s\n", "#Broker", "#Group",
                               "#Consume", "#Broadcast", "#RetryQs", "#MaxRetry", "#Orderly");
}

// Creates the group on each target broker, or changes the options given
// (the others keep their values; a new group starts from RocketMQ's defaults).
absl::Status UpdateSubGroup(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  const std::string group = options.Get("groupName");
  absl::StatusOr<std::vector<std::string>> targets = TargetBrokers(admin, options);
  if (!targets.ok()) return targets.status();
  PrintSubGroupHeader();
  for (const std::string& address : *targets) {
    absl::StatusOr<std::optional<broker::v1::SubscriptionGroupConfig>> found =
        FindSubGroup(admin, address, group);
    if (!found.ok()) return found.status();
    broker::v1::SubscriptionGroupConfig config;
    if (found->has_value()) {
      config = **found;
    } else {
      config.set_group_name(group);
      config.set_consume_enable(true);
      config.set_consume_broadcast_enable(true);
      config.set_retry_queue_nums(1);
      config.set_retry_max_times(16);
      config.set_consume_from_min_enable(true);
    }
    absl::StatusOr<int32_t> queues =
        IntOption(options, "retryQueueNums", config.retry_queue_nums());
    absl::StatusOr<int32_t> max = IntOption(options, "retryMaxTimes", config.retry_max_times());
    absl::StatusOr<bool> consume = BoolOption(options, "consumeEnable", config.consume_enable());
    absl::StatusOr<bool> broadcast =
        BoolOption(options, "consumeBroadcastEnable", config.consume_broadcast_enable());
    absl::StatusOr<bool> orderly =
        BoolOption(options, "consumeMessageOrderly", config.consume_message_orderly());
    if (!queues.ok()) return queues.status();
    if (!max.ok()) return max.status();
    for (const auto* flag : {&consume, &broadcast, &orderly}) {
      if (!flag->ok()) return flag->status();
    }
    config.set_retry_queue_nums(*queues);
    config.set_retry_max_times(*max);
    config.set_consume_enable(*consume);
    config.set_consume_broadcast_enable(*broadcast);
    config.set_consume_message_orderly(*orderly);
    broker::v1::CreateOrUpdateSubscriptionGroupRequest request;
    *request.mutable_config() = config;
    broker::v1::CreateOrUpdateSubscriptionGroupResponse response;
    absl::Status status =
        CallBroker(admin, address, &broker::v1::Broker::Stub::CreateOrUpdateSubscriptionGroup,
                   request, &response);
    if (!status.ok()) return status;
    PrintSubGroup(address, config);
  }
  return absl::OkStatus();
}

absl::Status DeleteSubGroup(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets = TargetBrokers(admin, options);
  if (!targets.ok()) return targets.status();
  for (const std::string& address : *targets) {
    broker::v1::DeleteSubscriptionGroupRequest request;
    request.set_group_name(options.Get("groupName"));
    broker::v1::DeleteSubscriptionGroupResponse response;
    absl::Status status = CallBroker(
        admin, address, &broker::v1::Broker::Stub::DeleteSubscriptionGroup, request, &response);
    if (!status.ok()) return status;
    std::cout << "delete subscription group [" << request.group_name() << "] from " << address
              << " success.\n";
  }
  return absl::OkStatus();
}

absl::Status SubGroupList(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets =
      options.Has("brokerAddr") || options.Has("clusterName") ? TargetBrokers(admin, options)
                                                              : admin.MasterAddresses("");
  if (!targets.ok()) return targets.status();
  PrintSubGroupHeader();
  for (const std::string& address : *targets) {
    broker::v1::GetAllSubscriptionGroupsResponse all;
    absl::Status status =
        CallBroker(admin, address, &broker::v1::Broker::Stub::GetAllSubscriptionGroups,
                   broker::v1::GetAllSubscriptionGroupsRequest(), &all);
    if (!status.ok()) return status;
    for (const broker::v1::SubscriptionGroupConfig& config : all.configs()) {
      PrintSubGroup(address, config);
    }
  }
  return absl::OkStatus();
}

// Prints the group's dead letters on every master (of -c CLUSTER).
absl::Status QueryDlqMsg(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::map<std::string, std::string>> masters =
      admin.MastersByName(options.Get("clusterName"));
  if (!masters.ok()) return masters.status();
  absl::StatusOr<int64_t> offset = options.GetInt("offset", 0);
  absl::StatusOr<int32_t> count = IntOption(options, "maxNum", 32);
  if (!offset.ok()) return offset.status();
  if (!count.ok()) return count.status();
  int found = 0;
  for (const auto& [name, address] : *masters) {
    broker::v1::ListDeadLettersRequest request;
    request.set_consumer_group(options.Get("consumerGroup"));
    request.set_offset(*offset);
    request.set_max_num(*count);
    broker::v1::ListDeadLettersResponse response;
    absl::Status status =
        CallBroker(admin, address, &broker::v1::Broker::Stub::ListDeadLetters, request, &response);
    if (absl::IsNotFound(status)) continue;  // no dead letters on this broker
    if (!status.ok()) return status;
    for (const common::v1::MessageExt& wire : response.messages()) {
      absl::StatusOr<MessageExt> ext = client_internal::ToMessageExt(wire, name, kMaxBodyBytes);
      if (!ext.ok()) return ext.status();
      PrintMessage(*ext);
      ++found;
    }
    std::cout << absl::StrFormat("# %s: next offset %d of %d\n", name, response.next_offset(),
                                 response.max_offset());
  }
  std::cout << "Dead letters: " << found << "\n";
  return absl::OkStatus();
}

// Resends one dead letter (-i) or all of the group's to their topics.
absl::Status ResendDlqMsg(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::map<std::string, std::string>> masters =
      admin.MastersByName(options.Get("clusterName"));
  if (!masters.ok()) return masters.status();
  int resent = 0;
  absl::Status last_not_found;
  for (const auto& [name, address] : *masters) {
    broker::v1::ResendDeadLettersRequest request;
    request.set_consumer_group(options.Get("consumerGroup"));
    request.set_msg_id(options.Get("msgId"));
    broker::v1::ResendDeadLettersResponse response;
    absl::Status status = CallBroker(admin, address, &broker::v1::Broker::Stub::ResendDeadLetters,
                                     request, &response);
    if (absl::IsNotFound(status)) {
      last_not_found = status;
      continue;
    }
    if (!status.ok()) return status;
    for (int i = 0; i < response.msg_ids_size(); ++i) {
      std::cout << absl::StrFormat("resent %s to %s on %s\n", response.msg_ids(i),
                                   response.topics(i), name);
    }
    resent += response.msg_ids_size();
  }
  if (resent == 0 && options.Has("msgId")) return last_not_found;
  std::cout << "Resent: " << resent << "\n";
  return absl::OkStatus();
}

// ---- Access control: users and their permissions ----

// The masters a user command goes to: -b, or every master of -c (default:
// of every cluster). Each broker group keeps its own users.
absl::StatusOr<std::vector<std::string>> UserTargets(AdminClient& admin,
                                                     const ParsedOptions& options) {
  if (options.Has("brokerAddr")) return std::vector<std::string>{options.Get("brokerAddr")};
  return admin.MasterAddresses(options.Get("clusterName"));
}

// "PUB", "SUB", "PUB|SUB" (or PUB_SUB, SUB|PUB), "DENY".
absl::StatusOr<acl::v1::Perm> ParsePerm(absl::string_view text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  if (upper == "PUB") return acl::v1::PUB;
  if (upper == "SUB") return acl::v1::SUB;
  if (upper == "PUB|SUB" || upper == "SUB|PUB" || upper == "PUB_SUB") return acl::v1::PUB_SUB;
  if (upper == "DENY") return acl::v1::DENY;
  return absl::InvalidArgumentError(
      absl::StrCat("permission \"", text, "\" is none of PUB, SUB, PUB|SUB, DENY"));
}

std::string PermText(acl::v1::Perm perm) {
  switch (perm) {
    case acl::v1::PUB:
      return "PUB";
    case acl::v1::SUB:
      return "SUB";
    case acl::v1::PUB_SUB:
      return "PUB|SUB";
    case acl::v1::DENY:
      return "DENY";
    default:
      return "-";
  }
}

// "NAME=PERM,NAME=PERM" into `perms`.
absl::Status ParsePerms(absl::string_view list,
                        google::protobuf::Map<std::string, acl::v1::Perm>* perms) {
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item, "\" is not NAME=PERM (e.g. TopicA=PUB|SUB)"));
    }
    absl::StatusOr<acl::v1::Perm> perm = ParsePerm(parts[1]);
    if (!perm.ok()) return perm.status();
    (*perms)[std::string(parts[0])] = *perm;
  }
  return absl::OkStatus();
}

// Applies the user options given to `user`.
absl::Status ApplyUserOptions(const ParsedOptions& options, acl::v1::User* user) {
  if (options.Has("password")) user->set_secret_key(options.Get("password"));
  if (options.Has("role")) {
    const std::string role = absl::AsciiStrToUpper(options.Get("role"));
    if (role != "ADMIN" && role != "ORDINARY") {
      return absl::InvalidArgumentError("--role is ADMIN or ORDINARY");
    }
    user->set_role(role == "ADMIN" ? acl::v1::ADMIN : acl::v1::ORDINARY);
  }
  if (options.Has("topicPerms")) {
    user->clear_topic_perms();
    if (absl::Status s = ParsePerms(options.Get("topicPerms"), user->mutable_topic_perms());
        !s.ok()) {
      return s;
    }
  }
  if (options.Has("groupPerms")) {
    user->clear_group_perms();
    if (absl::Status s = ParsePerms(options.Get("groupPerms"), user->mutable_group_perms());
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, setter] :
       std::vector<std::pair<std::string, void (acl::v1::User::*)(acl::v1::Perm)>>{
           {"defaultTopicPerm", &acl::v1::User::set_default_topic_perm},
           {"defaultGroupPerm", &acl::v1::User::set_default_group_perm}}) {
    if (!options.Has(name)) continue;
    absl::StatusOr<acl::v1::Perm> perm = ParsePerm(options.Get(name));
    if (!perm.ok()) return perm.status();
    (user->*setter)(*perm);
  }
  if (options.Has("allowedIps")) {
    user->clear_allowed_ips();
    for (absl::string_view ip :
         absl::StrSplit(options.Get("allowedIps"), ',', absl::SkipWhitespace())) {
      user->add_allowed_ips(std::string(ip));
    }
  }
  return absl::OkStatus();
}

template <typename Request, typename Response>
absl::Status CallAcl(AdminClient& admin, const std::string& address,
                     grpc::Status (acl::v1::AclAdmin::Stub::*method)(grpc::ClientContext*,
                                                                     const Request&, Response*),
                     const Request& request) {
  return CallUnary(admin.Acl(address), method, request, admin.timeout(), BrokerLabel(address))
      .status();
}

std::vector<OptionSpec> UserOptions(bool create) {
  return {kNameServer,
          {'u', "user", "AK", "the user's access key", true},
          {'p', "password", "SK", "the user's secret key (6+ characters)", create},
          {'r', "role", "ROLE", "ORDINARY (default) or ADMIN"},
          {'t', "topicPerms", "LIST", "TOPIC=PERM,... with PERM PUB, SUB, PUB|SUB or DENY"},
          {'g', "groupPerms", "LIST", "GROUP=PERM,..."},
          {'d', "defaultTopicPerm", "PERM", "for topics not listed (default: the broker's)"},
          {'e', "defaultGroupPerm", "PERM", "for groups not listed"},
          {'i', "allowedIps", "LIST", "addresses or CIDR blocks the user may call from"},
          {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
          {'c', "clusterName", "CLUSTER", "cluster name"}};
}

absl::Status CreateUser(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  acl::v1::CreateUserRequest request;
  request.mutable_user()->set_access_key(options.Get("user"));
  if (absl::Status s = ApplyUserOptions(options, request.mutable_user()); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> targets = UserTargets(admin, options);
  if (!targets.ok()) return targets.status();
  for (const std::string& address : *targets) {
    absl::Status status = CallAcl(admin, address, &acl::v1::AclAdmin::Stub::CreateUser, request);
    if (!status.ok()) return status;
    std::cout << "created user " << request.user().access_key() << " on " << address << "\n";
  }
  return absl::OkStatus();
}

absl::StatusOr<acl::v1::User> FindUser(AdminClient& admin, const std::string& address,
                                       const std::string& access_key) {
  absl::StatusOr<acl::v1::ListUsersResponse> all =
      CallUnary(admin.Acl(address), &acl::v1::AclAdmin::Stub::ListUsers,
                acl::v1::ListUsersRequest(), admin.timeout(), BrokerLabel(address));
  if (!all.ok()) return all.status();
  for (const acl::v1::User& user : all->users()) {
    if (user.access_key() == access_key) return user;
  }
  return absl::NotFoundError(
      absl::StrCat(BrokerLabel(address), "no user with access key \"", access_key, "\""));
}

absl::Status UpdateUser(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets = UserTargets(admin, options);
  if (!targets.ok()) return targets.status();
  for (const std::string& address : *targets) {
    absl::StatusOr<acl::v1::User> user = FindUser(admin, address, options.Get("user"));
    if (!user.ok()) return user.status();
    acl::v1::UpdateUserRequest request;
    *request.mutable_user() = *std::move(user);
    if (absl::Status s = ApplyUserOptions(options, request.mutable_user()); !s.ok()) return s;
    absl::Status status = CallAcl(admin, address, &acl::v1::AclAdmin::Stub::UpdateUser, request);
    if (!status.ok()) return status;
    std::cout << "updated user " << request.user().access_key() << " on " << address << "\n";
  }
  return absl::OkStatus();
}

absl::Status DeleteUser(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets = UserTargets(admin, options);
  if (!targets.ok()) return targets.status();
  acl::v1::DeleteUserRequest request;
  request.set_access_key(options.Get("user"));
  for (const std::string& address : *targets) {
    absl::Status status = CallAcl(admin, address, &acl::v1::AclAdmin::Stub::DeleteUser, request);
    if (!status.ok()) return status;
    std::cout << "deleted user " << request.access_key() << " on " << address << "\n";
  }
  return absl::OkStatus();
}

std::string JoinPerms(const google::protobuf::Map<std::string, acl::v1::Perm>& perms) {
  std::map<std::string, acl::v1::Perm> sorted(perms.begin(), perms.end());
  std::vector<std::string> items;
  for (const auto& [name, perm] : sorted) items.push_back(absl::StrCat(name, "=", PermText(perm)));
  return items.empty() ? "-" : absl::StrJoin(items, ",");
}

absl::Status ListUser(const ParsedOptions& options) {
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets = UserTargets(admin, options);
  if (!targets.ok()) return targets.status();
  std::cout << absl::StrFormat("%-22s %-16s %-9s %-10s %-10s %-30s %-30s %s\n", "#Broker",
                               "#AccessKey", "#Role", "#DefTopic", "#DefGroup", "#Topics",
                               "#Groups", "#AllowedIps");
  for (const std::string& address : *targets) {
    absl::StatusOr<acl::v1::ListUsersResponse> all =
        CallUnary(admin.Acl(address), &acl::v1::AclAdmin::Stub::ListUsers,
                  acl::v1::ListUsersRequest(), admin.timeout(), BrokerLabel(address));
    if (!all.ok()) return all.status();
    for (const acl::v1::User& user : all->users()) {
      std::cout << absl::StrFormat(
          "%-22s %-16s %-9s %-10s %-10s %-30s %-30s %s\n", address, user.access_key(),
          user.role() == acl::v1::ADMIN ? "ADMIN" : "ORDINARY", PermText(user.default_topic_perm()),
          PermText(user.default_group_perm()), JoinPerms(user.topic_perms()),
          JoinPerms(user.group_perms()),
          user.allowed_ips().empty() ? "-" : absl::StrJoin(user.allowed_ips(), ","));
    }
  }
  return absl::OkStatus();
}

absl::Status GrantOrRevoke(const ParsedOptions& options, bool grant) {
  if (options.Has("topic") == options.Has("group")) {
    return absl::InvalidArgumentError("give exactly one of -t TOPIC and -g GROUP");
  }
  AdminClient admin = Admin(options);
  absl::StatusOr<std::vector<std::string>> targets = UserTargets(admin, options);
  if (!targets.ok()) return targets.status();
  for (const std::string& address : *targets) {
    absl::Status status;
    if (grant) {
      absl::StatusOr<acl::v1::Perm> perm = ParsePerm(options.Get("perm"));
      if (!perm.ok()) return perm.status();
      acl::v1::GrantRequest request;
      request.set_access_key(options.Get("user"));
      request.set_topic(options.Get("topic"));
      request.set_group(options.Get("group"));
      request.set_perm(*perm);
      status = CallAcl(admin, address, &acl::v1::AclAdmin::Stub::Grant, request);
    } else {
      acl::v1::RevokeRequest request;
      request.set_access_key(options.Get("user"));
      request.set_topic(options.Get("topic"));
      request.set_group(options.Get("group"));
      status = CallAcl(admin, address, &acl::v1::AclAdmin::Stub::Revoke, request);
    }
    if (!status.ok()) return status;
    std::cout << (grant ? "granted on " : "revoked on ") << address << "\n";
  }
  return absl::OkStatus();
}

std::vector<Command> Commands() {
  const OptionSpec topic = {'t', "topic", "TOPIC", "topic name", true};
  return {
      {"clusterList",
       "List the clusters, their broker groups and brokers, with their load.",
       {kNameServer},
       ClusterList},
      {"topicList", "List every topic the name server knows.", {kNameServer}, TopicList},
      {"topicRoute",
       "Print a topic's route (queues per broker group, broker addresses) as JSON.",
       {kNameServer, topic},
       TopicRoute},
      {"updateTopic",
       "Create or update a topic on one broker (-b) or on every master of a cluster (-c).",
       {kNameServer,
        topic,
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"},
        {'r', "readQueueNums", "NUM", "read queues (default 8)"},
        {'w', "writeQueueNums", "NUM", "write queues (default 8)"},
        {'p', "perm", "PERM", "permission bits: 2 write, 4 read, 6 both (default 6)"},
        {'o', "order", "", "ordered topic"},
        {'a', "attributes", "ATTRS",
         "RocketMQ 5 attributes: '+message.type=NORMAL|FIFO|DELAY|TRANSACTION|MIXED' (the types "
         "RocketMQ 5 clients may send; default MIXED)"}},
       UpdateTopic},
      {"deleteTopic",
       "Delete a topic from the masters of a cluster (default: every cluster) and from the name "
       "servers.",
       {kNameServer, topic, {'c', "clusterName", "CLUSTER", "cluster name"}},
       DeleteTopic},
      {"topicStatus",
       "Print the min and max offset of every queue of a topic.",
       {kNameServer, topic},
       TopicStatus},
      {"sendMessage",
       "Send one message and print where it went.",
       {kNameServer,
        topic,
        {'p', "body", "BODY", "message body", true},
        {'k', "keys", "KEYS", "message keys, space separated"},
        {'c', "tags", "TAGS", "message tag"},
        {'b', "brokerName", "BROKER", "broker group to send to (with -i)"},
        {'i', "queueId", "QID", "queue to send to (with -b)"}},
       SendMessage},
      {"consumeMessage",
       "Print messages of a topic, pulled from each queue from its min offset (or -o).",
       {kNameServer,
        topic,
        {'b', "brokerName", "BROKER", "only this broker group's queues"},
        {'i', "queueId", "QID", "only this queue id"},
        {'o', "offset", "OFFSET", "start offset in each queue (default: the min offset)"},
        {'g', "consumerGroup", "GROUP", "consumer group (default mqadmin_consumer)"},
        {'c', "count", "NUM", "most messages to print (default 128)"}},
       ConsumeMessage},
      {"queryMsgById",
       "Print a message by its offset message id, or by its unique id when -t is given.",
       {kNameServer,
        {'i', "msgId", "ID", "message id", true},
        {'t', "topic", "TOPIC", "topic of a unique id"}},
       QueryMsgById},
      {"queryMsgByKey",
       "List the messages of a topic with a key.",
       {kNameServer,
        topic,
        {'k', "msgKey", "KEY", "message key", true},
        {'b', "beginTimestamp", "MS", "earliest store time, ms since the epoch (default 0)"},
        {'e', "endTimestamp", "MS", "latest store time, ms since the epoch (default now)"},
        {'c', "maxNum", "NUM", "most messages per broker (default 32)"}},
       QueryMsgByKey},
      {"brokerStatus",
       "Print a broker's runtime figures (-b), or those of a cluster's masters.",
       {kNameServer,
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       BrokerStatus},
      {"consumerProgress",
       "Print a consumer group's offsets against the brokers' (the lag) and its online members; "
       "without -g, list every consumer group with its online members and lag.",
       {kNameServer,
        {'g', "consumerGroup", "GROUP", "consumer group (default: list the groups)"},
        {'t', "topic", "TOPIC", "only this topic"}},
       ConsumerProgress},
      {"producerConnection",
       "List the live producers of a group on every master: client id, language and version "
       "(RocketMQ 5 clients: their producer group is the topic).",
       {kNameServer, {'g', "producerGroup", "GROUP", "producer group", true}},
       ProducerConnection},
      // Consumer retry and dead-letter queues.
      {"updateSubGroup",
       "Create a subscription group, or change the given options of one, on one broker (-b) or "
       "on every master of a cluster (-c).",
       {kNameServer,
        {'g', "groupName", "GROUP", "consumer group", true},
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"},
        {'s', "consumeEnable", "BOOL", "false refuses the group's pulls (default true)"},
        {'d', "consumeBroadcastEnable", "BOOL", "the group consumes in broadcasting mode"},
        {'o', "consumeMessageOrderly", "BOOL", "the group consumes orderly"},
        {'q', "retryQueueNums", "NUM", "queues of %RETRY%<group> (default 1)"},
        {'r', "retryMaxTimes", "NUM", "attempts before the DLQ, 0..64 (default 16)"}},
       UpdateSubGroup},
      {"deleteSubGroup",
       "Delete a subscription group from one broker (-b) or every master of a cluster (-c).",
       {kNameServer,
        {'g', "groupName", "GROUP", "consumer group", true},
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       DeleteSubGroup},
      {"subGroupList",
       "List the subscription groups of one broker (-b), a cluster's masters (-c) or every "
       "master.",
       {kNameServer,
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       SubGroupList},
      {"queryDlqMsg",
       "Print a consumer group's dead letters (%DLQ%<group>) on every master (of -c).",
       {kNameServer,
        {'g', "consumerGroup", "GROUP", "consumer group", true},
        {'c', "clusterName", "CLUSTER", "cluster name"},
        {'o', "offset", "OFFSET", "first DLQ offset on each broker (default 0)"},
        {'m', "maxNum", "NUM", "most messages per broker, 1..1024 (default 32)"}},
       QueryDlqMsg},
      {"resendDlqMsg",
       "Resend a consumer group's dead letter (-i) or all of them to the topics they were "
       "consumed from, with their reconsume count reset (they stay in the DLQ).",
       {kNameServer,
        {'g', "consumerGroup", "GROUP", "consumer group", true},
        {'i', "msgId", "ID", "the dead letter's message id (default: all)"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       ResendDlqMsg},
      // Access control.
      {"createUser", "Create an access control user on one broker (-b) or every master (of -c).",
       UserOptions(true), CreateUser},
      {"updateUser",
       "Change the given fields of a user (the secret only with -p) on -b or every master.",
       UserOptions(false), UpdateUser},
      {"deleteUser",
       "Delete a user on -b or every master.",
       {kNameServer,
        {'u', "user", "AK", "the user's access key", true},
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       DeleteUser},
      {"listUser",
       "List the users (without secrets) of -b or every master.",
       {kNameServer,
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       ListUser},
      {"grant",
       "Set a user's permission on a topic (-t) or consumer group (-g).",
       {kNameServer,
        {'u', "user", "AK", "the user's access key", true},
        {'t', "topic", "TOPIC", "topic"},
        {'g', "group", "GROUP", "consumer group"},
        {'p', "perm", "PERM", "PUB, SUB, PUB|SUB or DENY", true},
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       [](const ParsedOptions& options) { return GrantOrRevoke(options, true); }},
      {"revoke",
       "Remove a user's permission on a topic (-t) or group (-g): its default applies.",
       {kNameServer,
        {'u', "user", "AK", "the user's access key", true},
        {'t', "topic", "TOPIC", "topic"},
        {'g', "group", "GROUP", "consumer group"},
        {'b', "brokerAddr", "ADDR", "broker address, HOST:PORT"},
        {'c', "clusterName", "CLUSTER", "cluster name"}},
       [](const ParsedOptions& options) { return GrantOrRevoke(options, false); }},
  };
}

void PrintCommandList(std::ostream& out) {
  out << "usage: " << kProgram << " <command> [options]; " << kProgram
      << " <command> --help explains one.\n\ncommands:\n";
  for (const Command& command : Commands()) {
    out << absl::StrFormat("  %-18s %s\n", command.name, command.description);
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintCommandList(std::cerr);
    return 2;
  }
  if (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
    if (args.size() == 1) {
      PrintCommandList(std::cout);
      return 0;
    }
    args = {args[1], "--help"};
  }
  std::vector<Command> commands = Commands();
  for (Command& c : commands) {
    c.options.push_back(kAccessKey);
    c.options.push_back(kSecretKey);
  }
  auto command = std::find_if(commands.begin(), commands.end(),
                              [&](const Command& c) { return c.name == args[0]; });
  if (command == commands.end()) {
    std::cerr << kProgram << ": unknown command \"" << args[0] << "\"; run " << kProgram
              << " for the list\n";
    return 2;
  }
  std::vector<OptionSpec> specs = command->options;
  if (std::any_of(specs.begin(), specs.end(),
                  [](const OptionSpec& spec) { return spec.long_name == kNameServer.long_name; })) {
    specs.insert(specs.end(), kTlsOptions.begin(), kTlsOptions.end());
  }
  absl::StatusOr<ParsedOptions> options =
      ParseOptions(specs, std::vector<std::string>(args.begin() + 1, args.end()));
  if (!options.ok()) {
    std::cerr << kProgram << ": " << command->name
              << ": INVALID_ARGUMENT: " << options.status().message() << " (see " << kProgram << " "
              << command->name << " --help)\n";
    return 2;
  }
  if (options->help()) {
    std::cout << Usage(kProgram, command->name, command->description, specs);
    return 0;
  }
  if (!options->positional().empty()) {
    std::cerr << kProgram << ": " << command->name << ": INVALID_ARGUMENT: unexpected argument \""
              << options->positional().front() << "\"\n";
    return 2;
  }
  if (absl::Status tls = client_internal::ChannelTls(Tls(*options)).Validate(); !tls.ok()) {
    std::cerr << kProgram << ": " << command->name << ": INVALID_ARGUMENT: " << tls.message()
              << "\n";
    return 2;
  }
  absl::Status status = command->run(*options);
  if (!status.ok()) {
    std::cerr << kProgram << ": " << command->name << ": "
              << absl::StatusCodeToString(status.code()) << ": " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tools
}  // namespace mq

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  // The library's progress logs are noise on a command line; warnings stay.
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_WARNING;
  return mq::tools::Main(argc, argv);
}
