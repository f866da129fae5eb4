#include "services/broker/peer_address.h"

#include <gtest/gtest.h>

namespace mq::broker {
namespace {

TEST(PeerAddressTest, KeepsIpv4) {
  EXPECT_EQ(PeerToHostPort("ipv4:10.1.2.3:5678"), "10.1.2.3:5678");
}

TEST(PeerAddressTest, MapsIpv6LoopbackAndMappedAddresses) {
  EXPECT_EQ(PeerToHostPort("ipv6:[::1]:40000"), "127.0.0.1:40000");
  EXPECT_EQ(PeerToHostPort("ipv6:%5B::1%5D:40000"), "127.0.0.1:40000");
  EXPECT_EQ(PeerToHostPort("ipv6:[::ffff:10.0.0.7]:9"), "10.0.0.7:9");
  EXPECT_EQ(PeerToHostPort("ipv6:%5B%3A%3Affff%3A10.0.0.7%5D:9"), "10.0.0.7:9");
}

TEST(PeerAddressTest, OtherPeersBecomeTheUnknownHost) {
  EXPECT_EQ(PeerToHostPort("ipv6:[2001:db8::1]:443"), "0.0.0.0:443");
  EXPECT_EQ(PeerToHostPort("unix:/tmp/socket"), "0.0.0.0:0");
  EXPECT_EQ(PeerToHostPort("ipv4:garbage"), "0.0.0.0:0");
  EXPECT_EQ(PeerToHostPort(""), "0.0.0.0:0");
}

}  // namespace
}  // namespace mq::broker
