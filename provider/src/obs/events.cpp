#include "obs/events.hpp"

#include <atomic>

namespace hsmp::obs {

namespace {
std::atomic<CallObserver> g_call_observer{nullptr};
} // namespace

void set_call_observer(CallObserver observer) noexcept {
    g_call_observer.store(observer, std::memory_order_release);
}

CallObserver call_observer() noexcept {
    return g_call_observer.load(std::memory_order_acquire);
}

} // namespace hsmp::obs
