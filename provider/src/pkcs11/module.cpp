#include "pkcs11/module.hpp"

#include <dlfcn.h>
#include <openssl/err.h>
#include <p11-kit/p11-kit.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#ifndef HSMP_P11KIT_PROXY
#define HSMP_P11KIT_PROXY "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
#endif

namespace hsmp::p11 {

namespace {

// Plain bool: trivially destructible, so safe if the provider is dlclose'd.
thread_local bool t_in_module_call = false;

// The process generation in which this library last initialised each module (keyed by
// function table). It outlives Module objects, so a Module created in a forked child
// knows that a CKR_CRYPTOKI_ALREADY_INITIALIZED there is state inherited from our parent,
// not an initialisation by another library in this process. Leaked on purpose (atexit).
struct InitRecords {
    std::mutex mutex;
    std::map<const CK_FUNCTION_LIST*, std::uint64_t> generation;
};

InitRecords& init_records() {
    static auto* records = new InitRecords(); // NOLINT(cppcoreguidelines-owning-memory)
    return *records;
}

std::optional<std::uint64_t> last_init_generation(const CK_FUNCTION_LIST* functions) {
    InitRecords& r = init_records();
    const std::lock_guard lock(r.mutex);
    auto it = r.generation.find(functions);
    return it == r.generation.end() ? std::nullopt : std::optional(it->second);
}

void record_init_generation(const CK_FUNCTION_LIST* functions, std::uint64_t gen) {
    InitRecords& r = init_records();
    const std::lock_guard lock(r.mutex);
    r.generation[functions] = gen;
}

// Returns a readable reason why `path` cannot be a module, before dlopen tries.
Result<void> check_module_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        return Error(err == ENOENT ? Code::NotFound : Code::InvalidArgument,
                     "PKCS#11 module \"" + path + "\": " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
        return Error(Code::InvalidArgument, "PKCS#11 module \"" + path + "\": not a regular file");
    }
    return ok();
}

} // namespace

std::string_view p11kit_proxy_path() noexcept {
    return HSMP_P11KIT_PROXY;
}

bool in_module_call() noexcept {
    return t_in_module_call;
}

Result<std::string> p11kit_module_path(std::string_view name) {
    // Unmanaged and uninitialised: only the registry's configuration is read.
    CK_FUNCTION_LIST** modules = p11_kit_modules_load(nullptr, P11_KIT_MODULE_UNMANAGED);
    if (modules == nullptr) {
        return Error(Code::NotFound, "p11-kit registry could not be read: " +
                                         std::string(p11_kit_message() ? p11_kit_message() : ""));
    }
    std::string result;
    std::string seen;
    for (CK_FUNCTION_LIST** it = modules; *it != nullptr; ++it) {
        char* mod_name = p11_kit_module_get_name(*it);
        if (mod_name == nullptr) {
            continue;
        }
        if (!seen.empty()) {
            seen += ", ";
        }
        seen += mod_name;
        if (name == mod_name) {
            char* file = p11_kit_module_get_filename(*it);
            if (file != nullptr) {
                result = file;
                free(file); // NOLINT(cppcoreguidelines-no-malloc)
            }
        }
        free(mod_name); // NOLINT(cppcoreguidelines-no-malloc)
    }
    p11_kit_modules_release(modules);
    if (result.empty()) {
        return Error(Code::NotFound, "module-name \"" + std::string(name) +
                                         "\" is not registered with p11-kit (registered: " +
                                         (seen.empty() ? std::string("none") : seen) + ")");
    }
    return result;
}

Result<std::shared_ptr<Module>> Module::load(const ModuleSpec& spec) {
    std::string path;
    if (!spec.path.empty()) {
        path = spec.path;
    } else if (!spec.name.empty()) {
        auto resolved = p11kit_module_path(spec.name);
        if (!resolved) {
            return std::move(resolved).error();
        }
        path = std::move(resolved).value();
    } else {
        path = std::string(p11kit_proxy_path());
    }
    if (auto checked = check_module_file(path); !checked) {
        return checked.error();
    }

    // RTLD_LOCAL keeps the module's symbols to itself; RTLD_NODELETE keeps it mapped after
    // dlclose so atexit handlers it registered stay valid. No RTLD_DEEPBIND: it breaks ASan.
    (void)dlerror();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
        const char* why = dlerror();
        return Error(Code::InvalidArgument, "cannot load PKCS#11 module \"" + path +
                                                "\": " + (why ? why : "unknown dlopen error"));
    }

    std::shared_ptr<Module> module(new Module());
    module->m_path = path;
    module->m_init_args = spec.init_args;
    module->m_handle = handle;

    // Prefer the 3.0 interface; fall back to the 2.x function list.
    auto get_interface = reinterpret_cast<hsmp_C_GetInterface_fn>(dlsym(handle, "C_GetInterface"));
    if (get_interface != nullptr) {
        HSMP_CK_INTERFACE* iface = nullptr;
        CK_UTF8CHAR name[] = "PKCS 11";
        const CK_RV rv = get_interface(name, nullptr, &iface, 0);
        if (rv == CKR_OK && iface != nullptr && iface->pFunctionList != nullptr) {
            module->m_functions = static_cast<CK_FUNCTION_LIST*>(iface->pFunctionList);
            module->m_uses_interface = true;
        }
    }
    if (module->m_functions == nullptr) {
        auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
        if (get_list == nullptr) {
            dlclose(handle);
            module->m_handle = nullptr;
            return Error(Code::InvalidArgument,
                         "\"" + path + "\" is not a PKCS#11 module: it exports neither " +
                             "C_GetInterface nor C_GetFunctionList");
        }
        CK_FUNCTION_LIST* list = nullptr;
        const CK_RV rv = get_list(&list);
        if (rv != CKR_OK || list == nullptr) {
            dlclose(handle);
            module->m_handle = nullptr;
            return rv_error("C_GetFunctionList", rv == CKR_OK ? CKR_GENERAL_ERROR : rv,
                            "PKCS#11 module \"" + path + "\"");
        }
        module->m_functions = list;
    }
    if (module->m_functions->version.major < 2) {
        return Error(Code::Unsupported, "PKCS#11 module \"" + path + "\" implements Cryptoki " +
                                            std::to_string(module->m_functions->version.major) +
                                            ", 2.x or later is needed");
    }
    return module;
}

Module::~Module() {
    // C_Finalize is deliberately not called: at process exit the module may already have
    // run its own destructors (SoftHSM crashes then), and other users in the process may
    // share it. The object stays mapped (RTLD_NODELETE).
    if (m_handle != nullptr) {
        dlclose(m_handle);
    }
}

Result<void> Module::ensure_initialized() {
    const std::uint64_t gen = process_generation();
    if (m_generation.load(std::memory_order_acquire) == gen) {
        return ok();
    }
    const std::lock_guard lock(m_mutex);
    if (m_generation.load(std::memory_order_relaxed) == gen) {
        return ok();
    }
    // In a child after fork the state inherited from the parent is not ours to finalise;
    // C_Initialize is what the specification requires of the child. A module that did not
    // notice the fork answers CKR_CRYPTOKI_ALREADY_INITIALIZED, and then it is finalised
    // and initialised again (initialize_locked).
    return initialize_locked(false);
}

Result<void> Module::reinitialize() {
    const std::lock_guard lock(m_mutex);
    return initialize_locked(last_init_generation(m_functions).has_value());
}

Result<void> Module::initialize_locked(bool finalize_first) {
    const std::uint64_t gen = process_generation();
    if (finalize_first) {
        (void)call("C_Finalize", &CK_FUNCTION_LIST::C_Finalize, nullptr);
    }
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    args.pReserved = m_init_args.empty() ? nullptr : m_init_args.data();
    CK_RV rv = call("C_Initialize", &CK_FUNCTION_LIST::C_Initialize, &args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        const auto last = last_init_generation(m_functions);
        if (last && *last != gen) {
            // Our own initialisation, inherited across fork by a module that did not notice
            // the fork: its sessions and login are the parent's. Start it afresh.
            (void)call("C_Finalize", &CK_FUNCTION_LIST::C_Finalize, nullptr);
            rv = call("C_Initialize", &CK_FUNCTION_LIST::C_Initialize, &args);
        } else {
            // Initialised in this process already, by us or by another library sharing
            // the module: usable as it is.
            rv = CKR_OK;
        }
    }
    if (rv != CKR_OK) {
        return rv_error("C_Initialize", rv, "PKCS#11 module \"" + m_path + "\"");
    }
    record_init_generation(m_functions, gen);
    m_generation.store(gen, std::memory_order_release);
    m_epoch.fetch_add(1, std::memory_order_acq_rel);
    return ok();
}

Module::CallScope::CallScope(std::string_view name) noexcept
    : m_name(name), m_observer(obs::call_observer()),
      m_start(m_observer != nullptr ? std::chrono::steady_clock::now()
                                    : std::chrono::steady_clock::time_point{}),
      m_outer(!t_in_module_call) {
    t_in_module_call = true;
    // Modules built on OpenSSL leave their own errors on the thread's queue (SoftHSM's
    // failed engine probes); the mark lets us drop them when the call returns.
    ERR_set_mark();
}

Module::CallScope::~CallScope() {
    ERR_pop_to_mark();
    if (m_outer) {
        t_in_module_call = false;
    }
}

void Module::CallScope::finish(CK_RV rv) const noexcept {
    // The observer seen when the call began (one installed meanwhile sees the next call).
    if (m_observer != nullptr) {
        m_observer(obs::CallEvent{m_name, rv, std::chrono::steady_clock::now() - m_start});
    }
}

Result<std::vector<CK_SLOT_ID>> Module::slot_list(bool token_present) const {
    const CK_BBOOL present = token_present ? CK_TRUE : CK_FALSE;
    CK_ULONG count = 0;
    if (auto r = check("C_GetSlotList", m_path, &CK_FUNCTION_LIST::C_GetSlotList, present, nullptr,
                       &count);
        !r) {
        return r.error();
    }
    std::vector<CK_SLOT_ID> slots(count);
    if (count > 0) {
        if (auto r = check("C_GetSlotList", m_path, &CK_FUNCTION_LIST::C_GetSlotList, present,
                           slots.data(), &count);
            !r) {
            return r.error();
        }
        slots.resize(count);
    }
    return slots;
}

Result<std::vector<CK_MECHANISM_TYPE>> Module::mechanism_list(CK_SLOT_ID slot,
                                                              std::string context) const {
    CK_ULONG count = 0;
    if (auto r = check("C_GetMechanismList", context, &CK_FUNCTION_LIST::C_GetMechanismList, slot,
                       nullptr, &count);
        !r) {
        return r.error();
    }
    // One element of slack: p11-kit 0.24's RPC client (p11-kit-client.so) drops mechanisms
    // it cannot relay with a memmove that reads one element past the list it was given.
    std::vector<CK_MECHANISM_TYPE> list;
    if (count > 0) {
        list.resize(count + 1);
        count = list.size();
        if (auto r = check("C_GetMechanismList", std::move(context),
                           &CK_FUNCTION_LIST::C_GetMechanismList, slot, list.data(), &count);
            !r) {
            return r.error();
        }
        list.resize(std::min<std::size_t>(count, list.size()));
    }
    std::sort(list.begin(), list.end());
    return list;
}

} // namespace hsmp::p11
