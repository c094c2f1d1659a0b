#include "obs/events.hpp"

#include <atomic>

namespace hsmp::obs {

namespace {
std::atomic<CallObserver> g_call_observer{nullptr};
std::atomic<OpObserver> g_op_observer{nullptr};
} // namespace

void set_call_observer(CallObserver observer) noexcept {
    g_call_observer.store(observer, std::memory_order_release);
}

CallObserver call_observer() noexcept {
    return g_call_observer.load(std::memory_order_acquire);
}

std::string_view operation_name(Operation op) noexcept {
    switch (op) {
    case Operation::Sign:
        return "sign";
    case Operation::Decrypt:
        return "decrypt";
    case Operation::Derive:
        return "derive";
    case Operation::Login:
        return "login";
    case Operation::KeyLoad:
        return "key_load";
    }
    return "unknown";
}

void set_op_observer(OpObserver observer) noexcept {
    g_op_observer.store(observer, std::memory_order_release);
}

OpObserver op_observer() noexcept {
    return g_op_observer.load(std::memory_order_acquire);
}

void emit(const OpEvent& event) noexcept {
    if (auto observer = op_observer(); observer != nullptr) {
        observer(event);
    }
}

} // namespace hsmp::obs
