#include "pkcs11/observe.hpp"

namespace hsmp::p11 {

obs::Outcome outcome_of(const Error* error) noexcept {
    if (error == nullptr) {
        return obs::Outcome::Ok;
    }
    switch (error->code()) {
    case Code::Unauthenticated:
    case Code::Locked:
        return obs::Outcome::Denied;
    default:
        return obs::Outcome::Failed;
    }
}

void report_key_event(obs::Operation op, const Object& key, unsigned long mechanism,
                      const Error* error, std::chrono::nanoseconds duration) noexcept {
    const ObjectIdentity& ident = key.identity();
    obs::OpEvent event;
    event.operation = op;
    event.outcome = outcome_of(error);
    event.rv = error != nullptr && error->has_rv() ? error->rv() : 0;
    event.mechanism = mechanism;
    event.token_serial = key.token()->identity().serial;
    if (ident.label) {
        event.key_label = *ident.label;
    }
    event.key_id = ident.id;
    event.duration = duration;
    obs::emit(event);
}

void report_login(const Token& token, const Error* error,
                  std::chrono::nanoseconds duration) noexcept {
    obs::OpEvent event;
    event.operation = obs::Operation::Login;
    event.outcome = outcome_of(error);
    event.rv = error != nullptr && error->has_rv() ? error->rv() : 0;
    event.token_serial = token.identity().serial;
    event.duration = duration;
    obs::emit(event);
}

} // namespace hsmp::p11
