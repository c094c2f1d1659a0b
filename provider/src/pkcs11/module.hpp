// A loaded PKCS#11 module: the shared object, its function table, initialisation state
// and the single call wrapper through which every C_* call in the project goes.
#pragma once

#include "common/result.hpp"
#include "obs/events.hpp"
#include "pkcs11/fork.hpp"
#include "pkcs11/pkcs11.hpp"
#include "pkcs11/rv.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hsmp::p11 {

/// Where a module comes from. Exactly one of path / name is used; both empty means the
/// p11-kit proxy module, which reaches every module registered with p11-kit.
struct ModuleSpec {
    std::string path;      ///< absolute path of the shared object
    std::string name;      ///< p11-kit registry name (URI module-name)
    std::string init_args; ///< CK_C_INITIALIZE_ARGS.pReserved (NSS softokn: configDir=...)
};

/// Path of p11-kit's proxy module on this system.
[[nodiscard]] std::string_view p11kit_proxy_path() noexcept;

/// Resolves a p11-kit registry name ("softhsm2") to the module's file name.
[[nodiscard]] Result<std::string> p11kit_module_path(std::string_view name);

/// Marks the calling thread as being inside a PKCS#11 call. Software tokens call libcrypto
/// from inside C_* functions; upper layers check this to avoid re-entering the token
/// (DESIGN.md section 3, re-entrancy).
[[nodiscard]] bool in_module_call() noexcept;

class Module {
public:
    /// Loads the shared object and resolves its function table. Does not initialise.
    static Result<std::shared_ptr<Module>> load(const ModuleSpec& spec);

    ~Module();
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    /// Makes sure C_Initialize has run in this process; re-initialises after a fork.
    /// Cheap when nothing changed (one getpid and two atomic loads).
    Result<void> ensure_initialized();

    /// Re-initialises unconditionally (C_Finalize if needed, then C_Initialize). Used to
    /// recover from races right after a fork; invalidates every session and handle.
    Result<void> reinitialize();

    /// Increments on every successful (re)initialisation. Tokens, pools and objects
    /// compare it with the epoch they were set up in.
    [[nodiscard]] std::uint64_t epoch() const noexcept {
        return m_epoch.load(std::memory_order_acquire);
    }

    /// The path that was loaded (for messages; never secret).
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    /// True when the module exported C_GetInterface and we used it.
    [[nodiscard]] bool uses_interface() const noexcept { return m_uses_interface; }
    [[nodiscard]] CK_VERSION cryptoki_version() const noexcept { return m_functions->version; }

    /// Calls one function of the module's table: checks it exists, marks the thread as
    /// inside the module, keeps foreign errors off OpenSSL's error queue, times the call
    /// and reports it to the obs observer. Returns the module's CK_RV.
    template <class Fn, class... Args>
    CK_RV call(std::string_view name, Fn CK_FUNCTION_LIST::*slot, Args... args) const noexcept {
        auto fn = m_functions->*slot;
        if (fn == nullptr) {
            return CKR_FUNCTION_NOT_SUPPORTED;
        }
        const CallScope scope(name);
        const CK_RV rv = fn(args...);
        scope.finish(rv);
        return rv;
    }

    /// Convenience: call() and turn a failure into an Error naming the function and CKR_*.
    template <class Fn, class... Args>
    Result<void> check(std::string_view name, std::string context, Fn CK_FUNCTION_LIST::*slot,
                       Args... args) const {
        const CK_RV rv = call(name, slot, args...);
        if (rv != CKR_OK) {
            return rv_error(name, rv, std::move(context));
        }
        return ok();
    }

    /// C_GetSlotList, both calls: the slots with a token (`token_present`) or all slots.
    /// Errors name the module.
    [[nodiscard]] Result<std::vector<CK_SLOT_ID>> slot_list(bool token_present) const;

    /// C_GetMechanismList for `slot`, both calls, sorted; `context` names the slot or token
    /// in errors.
    [[nodiscard]] Result<std::vector<CK_MECHANISM_TYPE>> mechanism_list(CK_SLOT_ID slot,
                                                                        std::string context) const;

private:
    Module() = default;
    Result<void> initialize_locked(bool finalize_first);

    /// Brackets one module call (see call()).
    class CallScope {
    public:
        explicit CallScope(std::string_view name) noexcept;
        ~CallScope();
        CallScope(const CallScope&) = delete;
        CallScope& operator=(const CallScope&) = delete;
        void finish(CK_RV rv) const noexcept;

    private:
        std::string_view m_name;
        obs::CallObserver m_observer; // read once: no clock when nobody observes calls
        std::chrono::steady_clock::time_point m_start;
        bool m_outer;
    };

    std::string m_path;
    std::string m_init_args;
    void* m_handle = nullptr;
    CK_FUNCTION_LIST* m_functions = nullptr;
    bool m_uses_interface = false;

    std::mutex m_mutex; // serialises (re)initialisation; held across C_Initialize
    ForkLock m_fork_lock{m_mutex, LockRank::Module};
    std::atomic<std::uint64_t> m_generation{0}; // process generation of the last init
    std::atomic<std::uint64_t> m_epoch{0};
};

} // namespace hsmp::p11
