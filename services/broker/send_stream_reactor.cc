#include "services/broker/send_stream_reactor.h"

#include <glog/logging.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "services/broker/broker_errors.h"

namespace mq::broker {

void SendStreams::Add(SendStreamReactor* stream) {
  absl::MutexLock lock(&mu_);
  open_.insert(stream);
}

void SendStreams::Remove(SendStreamReactor* stream) {
  absl::MutexLock lock(&mu_);
  open_.erase(stream);
}

void SendStreams::DrainAll() {
  absl::MutexLock lock(&mu_);
  for (SendStreamReactor* stream : open_) stream->Drain();
}

SendStreamReactor::SendStreamReactor(
    SendMessageProcessor* processor, Executor* send_executor, std::string born_host,
    SendStreams* streams, BrokerMetrics* metrics, grpc::CallbackServerContext* context,
    std::function<absl::Status(const broker::v1::SendStreamRequest&)> authorize)
    : processor_(processor),
      send_executor_(send_executor),
      born_host_(std::move(born_host)),
      streams_(streams),
      metrics_(metrics),
      context_(context),
      authorize_(std::move(authorize)) {
  streams_->Add(this);
  Next next;
  {
    absl::MutexLock lock(&mu_);
    next = NextLocked();
  }
  Run(next);
}

SendStreamReactor::Next SendStreamReactor::NextLocked() {
  Next next;
  if (finished_) return next;
  const bool answering = !cancelled_;
  const size_t unanswered = static_cast<size_t>(in_flight_) + to_write_.size();
  if (answering && !draining_ && !reads_done_ && !read_outstanding_ &&
      unanswered < kMaxStreamSendsInFlight) {
    read_outstanding_ = true;
    next.read_into = &reading_;
  }
  if (answering && !write_outstanding_ && !to_write_.empty()) {
    writing_ = std::move(to_write_.front());
    to_write_.pop_front();
    write_outstanding_ = true;
    next.write_from = &writing_;
    next.more_to_write = !to_write_.empty();
  }
  if (in_flight_ == 0 && !write_outstanding_ && to_write_.empty() && draining_ && !cancelled_ &&
      !reads_done_) {
    // An outstanding read ends with the stream; what it brings is dropped.
    finished_ = true;
    next.finish = ServiceNotAvailable("the broker is stopping; send again (to another broker)");
  } else if (in_flight_ == 0 && !read_outstanding_ && !write_outstanding_ &&
             (cancelled_ || (reads_done_ && to_write_.empty()))) {
    finished_ = true;
    next.finish = cancelled_ ? absl::CancelledError("") : malformed_;
  }
  return next;
}

void SendStreamReactor::Run(Next next) {
  if (next.read_into != nullptr) StartRead(next.read_into);
  if (next.write_from != nullptr) {
    grpc::WriteOptions options;
    if (next.more_to_write) options.set_buffer_hint();
    StartWrite(next.write_from, options);
  }
  if (next.finish.has_value()) {
    Finish(next.finish->code() == absl::StatusCode::kCancelled
               ? grpc::Status::CANCELLED
               : ToGrpcStatus(*next.finish, context_));
  }
}

void SendStreamReactor::OnReadDone(bool ok) {
  std::shared_ptr<broker::v1::SendStreamRequest> request;
  bool parsed = false;
  if (ok) {
    request = std::make_shared<broker::v1::SendStreamRequest>();
    parsed = grpc::SerializationTraits<broker::v1::SendStreamRequest>::Deserialize(&reading_,
                                                                                   request.get())
                 .ok();
  }
  Next next;
  {
    absl::MutexLock lock(&mu_);
    read_outstanding_ = false;
    if (ok) ++frames_read_;
    if (!ok) {
      reads_done_ = true;
      request = nullptr;
    } else if (!parsed) {
      // Nothing after it is read: the client learns from the stream's status.
      reads_done_ = true;
      request = nullptr;
      malformed_ = WithResponseCode(
          absl::InvalidArgumentError(absl::StrCat(
              "request ", frames_read_,
              " of this stream could not be parsed as a SendStreamRequest; it and the "
              "requests written after it were not read (the ones before were answered)")),
          common::v1::SYSTEM_ERROR);
    } else if (!cancelled_ && !draining_ && !finished_) {
      ++in_flight_;
    } else {
      request = nullptr;
    }
    next = NextLocked();
  }
  // The send starts before the next read is issued, so with a store that
  // appends inline the messages of a stream are stored in the order sent.
  if (request != nullptr) StartSend(std::move(request));
  Run(next);
}

namespace {

// The stream's answer to one request: `result`'s value in the field
// `mutable_field` names, or its error.
template <typename Response>
broker::v1::SendStreamResponse ToAnswer(
    uint64_t request_id, absl::StatusOr<Response> result,
    Response* (broker::v1::SendStreamResponse::*mutable_field)()) {
  broker::v1::SendStreamResponse answer;
  answer.set_request_id(request_id);
  if (result.ok()) {
    *(answer.*mutable_field)() = *std::move(result);
    return answer;
  }
  *answer.mutable_error() = ToSendError(result.status());
  return answer;
}

}  // namespace

void SendStreamReactor::StartSend(std::shared_ptr<broker::v1::SendStreamRequest> request) {
  if (request->has_coalesced()) {
    StartCoalesced(std::move(request));
    return;
  }
  const uint64_t id = request->request_id();
  StartOne(std::move(request), id,
           [this](broker::v1::SendStreamResponse answer) { Complete(answer); });
}

void SendStreamReactor::StartOne(std::shared_ptr<broker::v1::SendStreamRequest> request,
                                 uint64_t id,
                                 std::function<void(broker::v1::SendStreamResponse)> answer) {
  // The messages move into the store's entries; `request` rides along into
  // the executor's task, which starts after this returns.
  using broker::v1::SendStreamResponse;
  if (authorize_ != nullptr) {
    if (absl::Status allowed = authorize_(*request); !allowed.ok()) {
      answer(ToAnswer(id, absl::StatusOr<broker::v1::SendMessageResponse>(allowed),
                      &SendStreamResponse::mutable_response));
      return;
    }
  }
  if (request->has_batch()) {
    auto done = [id, answer](absl::StatusOr<broker::v1::SendBatchResponse> result) {
      answer(ToAnswer(id, std::move(result), &SendStreamResponse::mutable_batch_response));
    };
    if (send_executor_ == nullptr) {
      processor_->SendBatchAsync(std::move(*request->mutable_batch()), born_host_, std::move(done));
      return;
    }
    absl::Status submitted = send_executor_->Submit(
        [this, request, done] {
          done(processor_->SendBatch(std::move(*request->mutable_batch()), born_host_));
        },
        [done](absl::Status status) { done(status); });
    if (!submitted.ok()) done(submitted);
    return;
  }
  if (request->has_coalesced()) {
    // Coalesced frames do not nest.
    answer(ToAnswer(id,
                    absl::StatusOr<broker::v1::SendMessageResponse>(IllegalMessage(
                        "a coalesced send carries single sends and batches, not coalesced sends")),
                    &SendStreamResponse::mutable_response));
    return;
  }
  auto done = [id, answer](absl::StatusOr<broker::v1::SendMessageResponse> result) {
    answer(ToAnswer(id, std::move(result), &SendStreamResponse::mutable_response));
  };
  if (send_executor_ == nullptr) {
    processor_->SendAsync(std::move(*request->mutable_send()), born_host_, std::move(done));
    return;
  }
  absl::Status submitted = send_executor_->Submit(
      [this, request, done] {
        done(processor_->Send(std::move(*request->mutable_send()), born_host_));
      },
      [done](absl::Status status) { done(status); });
  if (!submitted.ok()) done(submitted);
}

void SendStreamReactor::StartCoalesced(std::shared_ptr<broker::v1::SendStreamRequest> request) {
  using broker::v1::SendStreamResponse;
  // The frame's answers, gathered as each part completes; the last part to
  // complete writes them as one frame.
  struct Gathered {
    absl::Mutex mu;
    SendStreamResponse frame ABSL_GUARDED_BY(mu);
    size_t parts_left ABSL_GUARDED_BY(mu) = 0;
  };
  auto gathered = std::make_shared<Gathered>();
  google::protobuf::RepeatedPtrField<broker::v1::SendStreamRequest>& sends =
      *request->mutable_coalesced()->mutable_sends();
  // Runs of consecutive single sends are stored with one append each; a
  // batch is its own part. The parts start in the frame's order.
  std::vector<std::pair<int, int>> parts;
  for (int i = 0; i < sends.size();) {
    int end = i + 1;
    if (sends[i].has_send()) {
      while (end < sends.size() && sends[end].has_send()) ++end;
    }
    parts.emplace_back(i, end);
    i = end;
  }
  {
    absl::MutexLock lock(&gathered->mu);
    gathered->frame.set_request_id(request->request_id());
    gathered->frame.mutable_coalesced()->mutable_answers()->Reserve(sends.size());
    gathered->parts_left = parts.size();
  }
  if (parts.empty()) {
    SendStreamResponse empty;
    empty.set_request_id(request->request_id());
    empty.mutable_coalesced();
    Complete(empty);
    return;
  }
  // Adds `answers` of one part; the last part writes the frame.
  auto add = [this, gathered](std::vector<SendStreamResponse> answers) {
    SendStreamResponse frame;
    {
      absl::MutexLock lock(&gathered->mu);
      for (SendStreamResponse& answer : answers) {
        *gathered->frame.mutable_coalesced()->add_answers() = std::move(answer);
      }
      if (--gathered->parts_left > 0) return;
      frame = std::move(gathered->frame);
    }
    Complete(frame);
  };
  for (const auto& [begin, end] : parts) {
    if (!sends[begin].has_send()) {
      auto part = std::make_shared<broker::v1::SendStreamRequest>(std::move(sends[begin]));
      const uint64_t id = part->request_id();
      StartOne(std::move(part), id, [add](SendStreamResponse answer) { add({std::move(answer)}); });
      continue;
    }
    std::vector<uint64_t> ids;
    std::vector<broker::v1::SendMessageRequest> run;
    // The sends access control refuses, answered alone with their error.
    std::vector<SendStreamResponse> refused;
    ids.reserve(end - begin);
    run.reserve(end - begin);
    for (int i = begin; i < end; ++i) {
      if (authorize_ != nullptr) {
        if (absl::Status allowed = authorize_(sends[i]); !allowed.ok()) {
          refused.push_back(ToAnswer(sends[i].request_id(),
                                     absl::StatusOr<broker::v1::SendMessageResponse>(allowed),
                                     &SendStreamResponse::mutable_response));
          continue;
        }
      }
      ids.push_back(sends[i].request_id());
      run.push_back(std::move(*sends[i].mutable_send()));
    }
    if (run.empty()) {
      add(std::move(refused));
      continue;
    }
    auto done = [ids = std::move(ids), refused = std::move(refused),
                 add](std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> results) {
      std::vector<SendStreamResponse> answers = refused;
      answers.reserve(answers.size() + results.size());
      for (size_t i = 0; i < results.size(); ++i) {
        answers.push_back(
            ToAnswer(ids[i], std::move(results[i]), &SendStreamResponse::mutable_response));
      }
      add(std::move(answers));
    };
    if (send_executor_ == nullptr) {
      processor_->SendEachAsync(std::move(run), born_host_, std::move(done));
      continue;
    }
    auto shared_run = std::make_shared<std::vector<broker::v1::SendMessageRequest>>(std::move(run));
    absl::Status submitted = send_executor_->Submit(
        [this, shared_run, done] {
          absl::Notification answered;
          processor_->SendEachAsync(
              std::move(*shared_run), born_host_,
              [&](std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> results) {
                done(std::move(results));
                answered.Notify();
              });
          // A send thread holds its send until stored, as Send() does.
          answered.WaitForNotification();
        },
        [done, shared_run](absl::Status status) {
          done(std::vector<absl::StatusOr<broker::v1::SendMessageResponse>>(shared_run->size(),
                                                                            status));
        });
    if (!submitted.ok()) {
      done(std::vector<absl::StatusOr<broker::v1::SendMessageResponse>>(shared_run->size(),
                                                                        submitted));
    }
  }
}

void SendStreamReactor::Complete(const broker::v1::SendStreamResponse& answer) {
  if (metrics_ != nullptr) {
    auto count = [this](const broker::v1::SendStreamResponse& one) {
      if (!one.has_error()) return;
      metrics_->CountRejected(absl::Status(static_cast<absl::StatusCode>(one.error().code()), ""));
    };
    count(answer);
    for (const broker::v1::SendStreamResponse& one : answer.coalesced().answers()) count(one);
  }
  grpc::ByteBuffer frame;
  bool own_buffer = false;
  const grpc::Status serialized =
      grpc::SerializationTraits<broker::v1::SendStreamResponse>::Serialize(answer, &frame,
                                                                           &own_buffer);
  if (!serialized.ok()) {
    LOG(ERROR) << "send stream: the answer to request " << answer.request_id()
               << " could not be serialized: " << serialized.error_message();
  }
  Next next;
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;
    if (!cancelled_ && serialized.ok()) to_write_.push_back(std::move(frame));
    next = NextLocked();
  }
  Run(next);
}

void SendStreamReactor::OnWriteDone(bool ok) {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    write_outstanding_ = false;
    if (!ok) {
      // The stream broke; the client cannot read the remaining answers.
      cancelled_ = true;
      to_write_.clear();
    }
    next = NextLocked();
  }
  Run(next);
}

void SendStreamReactor::OnCancel() {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    to_write_.clear();
    next = NextLocked();
  }
  Run(next);
}

void SendStreamReactor::Drain() {
  Next next;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    next = NextLocked();
  }
  Run(next);
}

void SendStreamReactor::OnDone() {
  streams_->Remove(this);
  delete this;
}

}  // namespace mq::broker
