// A name server and two brokers ("broker-a", "broker-b", 4 queues each) serving
// topic "T", plus producer options pointing at them, for producer tests.
#ifndef MQ_TESTING_PRODUCER_FIXTURE_H_
#define MQ_TESTING_PRODUCER_FIXTURE_H_

#include <string>

#include "gtest/gtest.h"
#include "mq/producer.h"
#include "testing/fake_servers.h"

namespace mq::testing {

class ProducerFixture : public ::testing::Test {
 protected:
  ProducerFixture() : broker_a_("broker-a"), broker_b_("broker-b") {
    namesrv_.SetRoute("T", MakeRoute({{&broker_a_}, {&broker_b_}}));
  }

  // Options with this test's own instance name, so tests never share a client
  // instance.
  ProducerOptions Options() const {
    ProducerOptions options;
    options.client.name_server_addresses = {namesrv_.address()};
    options.client.instance_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    options.client.client_ip = "127.0.0.1";
    return options;
  }

  FakeNameServer namesrv_;
  FakeBroker broker_a_;
  FakeBroker broker_b_;
};

}  // namespace mq::testing

#endif  // MQ_TESTING_PRODUCER_FIXTURE_H_
