/* Control interface of the in-process fake PKCS#11 module (libhsmp_fake_pkcs11.so and
 * libhsmp_fake_pkcs11_v2.so). Tests load the module by path, drive it through its
 * CK_FUNCTION_LIST like any application, and steer it through these functions, resolved
 * with dlsym on the same handle (FakeControl below does that).
 *
 * Function names passed as `function` are the PKCS#11 names: "C_Login", "C_Sign", ...
 * All functions are thread safe; they take the module's one mutex.
 *
 * Default state (at load and after fake_reset):
 *   slot 7:  token "fake-token"  serial "FAKE0001" manufacturer "hsmp" model "fake"
 *            RSA-2048 pair "rsa" id 01, EC P-256 pair "ec" id 02, two RSA private keys
 *            "dup" ids 10 and 11, X.509 certificate "rsa" id 01 (self-signed, rsa key)
 *   slot 42: token "other-token" serial "FAKE0002": EC P-256 pair "other-ec" id 20
 *   user PIN "1234", SO PIN "5678", 3 PIN tries, 32 sessions per token.
 */
#ifndef HSMP_TESTS_FAKES_FAKE_CONTROL_H
#define HSMP_TESTS_FAKES_FAKE_CONTROL_H

/* Exported from the module even though it is built with -fvisibility=hidden. */
#define FAKE_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/* Back to the default state: finalises, closes every session, forgets faults, counts,
 * configuration and created objects. Key material is generated once per process. */
FAKE_API void fake_reset(void);

/* The next `count` calls of `function` return `rv` without doing anything (the call is
 * still counted). count -1: until cleared; count 0: clear this function's fault. */
FAKE_API void fake_fail(const char* function, unsigned long rv, int count);
FAKE_API void fake_clear_faults(void);

/* Calls of `function` since the last reset (faulted calls included). */
FAKE_API unsigned long fake_call_count(const char* function);
FAKE_API void fake_reset_counts(void);

/* ulMaxSessionCount of every token; 0 = CK_EFFECTIVELY_INFINITE. Applies to the next
 * C_OpenSession; open sessions stay open. */
FAKE_API void fake_set_max_sessions(unsigned long n);
/* Live sessions across all slots. */
FAKE_API unsigned long fake_open_sessions(void);

/* Wrong user PINs allowed before the PIN locks (default 3); also resets the counter and
 * unlocks. */
FAKE_API void fake_set_pin_tries(int n);
/* Changes the user PIN of every token (the counter is left alone). */
FAKE_API void fake_set_user_pin(const char* pin);

/* Token removal closes all its sessions (their handles then give
 * CKR_SESSION_HANDLE_INVALID) and logs out; C_GetSlotList(CK_TRUE) omits the slot and
 * C_GetTokenInfo/C_OpenSession give CKR_TOKEN_NOT_PRESENT. `slot_id` is the current id
 * (or the default id 7/42, which always names the same token). */
FAKE_API void fake_remove_token(unsigned long slot_id);
FAKE_API void fake_insert_token(unsigned long slot_id);

/* When enabled, every C_Initialize gives both slots new ids (+100 each time) and every
 * token object a new handle, as modules that re-enumerate after fork do. */
FAKE_API void fake_renumber_slots_on_init(int enable);

/* CK_TOKEN_INFO.flags of every token: OR in `set`, then remove `clear`. */
FAKE_API void fake_set_token_flags(unsigned long set, unsigned long clear);

/* Mechanisms of the token in slot `slot_id` (current or default id; 0 = every token).
 * fake_remove_mechanism: C_GetMechanismList omits `type`, C_GetMechanismInfo and C_SignInit
 * give CKR_MECHANISM_INVALID for it. fake_set_mechanism_flags: C_GetMechanismInfo reports
 * `flags` for `type` (C_SignInit does not look at them, like many real modules). */
FAKE_API void fake_remove_mechanism(unsigned long slot_id, unsigned long type);
FAKE_API void fake_set_mechanism_flags(unsigned long slot_id, unsigned long type,
                                       unsigned long flags);

/* pReserved of the last C_Initialize's CK_C_INITIALIZE_ARGS as a string, or "".
 * Valid until the next C_Initialize or reset. */
FAKE_API const char* fake_init_args(void);

/* 1 when initialised in this process (a forked child says 0 until it re-initialises). */
FAKE_API int fake_initialized(void);

/* C_Sign and C_SignFinal sleep this long before working, without holding the module's
 * mutex, so concurrency tests can overlap calls. */
FAKE_API void fake_set_sign_delay_us(unsigned long us);

#ifdef __cplusplus
}

#include <dlfcn.h>

#include <stdexcept>
#include <string>

/* Resolves the control functions from the fake module at `so_path`. dlopen with
 * RTLD_NOW | RTLD_LOCAL and the same path as the code under test returns the same handle,
 * so both see one module state. Header-only so tests need not link the module. */
struct FakeControl {
    explicit FakeControl(const char* so_path) : m_handle(dlopen(so_path, RTLD_NOW | RTLD_LOCAL)) {
        if (m_handle == nullptr) {
            const char* why = dlerror();
            throw std::runtime_error(std::string("FakeControl: ") +
                                     (why != nullptr ? why : so_path));
        }
        bind(m_reset, "fake_reset");
        bind(m_fail, "fake_fail");
        bind(m_clear_faults, "fake_clear_faults");
        bind(m_call_count, "fake_call_count");
        bind(m_reset_counts, "fake_reset_counts");
        bind(m_set_max_sessions, "fake_set_max_sessions");
        bind(m_open_sessions, "fake_open_sessions");
        bind(m_set_pin_tries, "fake_set_pin_tries");
        bind(m_set_user_pin, "fake_set_user_pin");
        bind(m_remove_token, "fake_remove_token");
        bind(m_insert_token, "fake_insert_token");
        bind(m_renumber_slots_on_init, "fake_renumber_slots_on_init");
        bind(m_set_token_flags, "fake_set_token_flags");
        bind(m_remove_mechanism, "fake_remove_mechanism");
        bind(m_set_mechanism_flags, "fake_set_mechanism_flags");
        bind(m_init_args, "fake_init_args");
        bind(m_initialized, "fake_initialized");
        bind(m_set_sign_delay_us, "fake_set_sign_delay_us");
    }
    ~FakeControl() { dlclose(m_handle); }
    FakeControl(const FakeControl&) = delete;
    FakeControl& operator=(const FakeControl&) = delete;
    FakeControl(FakeControl&&) = delete;
    FakeControl& operator=(FakeControl&&) = delete;

    /* Any symbol of the module, e.g. "C_GetFunctionList"; nullptr if absent. */
    [[nodiscard]] void* symbol(const char* name) const { return dlsym(m_handle, name); }
    [[nodiscard]] void* handle() const { return m_handle; }

    void fake_reset() const { m_reset(); }
    void fake_fail(const char* function, unsigned long rv, int count) const {
        m_fail(function, rv, count);
    }
    void fake_clear_faults() const { m_clear_faults(); }
    [[nodiscard]] unsigned long fake_call_count(const char* function) const {
        return m_call_count(function);
    }
    void fake_reset_counts() const { m_reset_counts(); }
    void fake_set_max_sessions(unsigned long n) const { m_set_max_sessions(n); }
    [[nodiscard]] unsigned long fake_open_sessions() const { return m_open_sessions(); }
    void fake_set_pin_tries(int n) const { m_set_pin_tries(n); }
    void fake_set_user_pin(const char* pin) const { m_set_user_pin(pin); }
    void fake_remove_token(unsigned long slot_id) const { m_remove_token(slot_id); }
    void fake_insert_token(unsigned long slot_id) const { m_insert_token(slot_id); }
    void fake_renumber_slots_on_init(int enable) const { m_renumber_slots_on_init(enable); }
    void fake_set_token_flags(unsigned long set, unsigned long clear) const {
        m_set_token_flags(set, clear);
    }
    void fake_remove_mechanism(unsigned long slot_id, unsigned long type) const {
        m_remove_mechanism(slot_id, type);
    }
    void fake_set_mechanism_flags(unsigned long slot_id, unsigned long type,
                                  unsigned long flags) const {
        m_set_mechanism_flags(slot_id, type, flags);
    }
    [[nodiscard]] const char* fake_init_args() const { return m_init_args(); }
    [[nodiscard]] int fake_initialized() const { return m_initialized(); }
    void fake_set_sign_delay_us(unsigned long us) const { m_set_sign_delay_us(us); }

private:
    template <typename Fn> void bind(Fn& slot, const char* name) {
        void* sym = dlsym(m_handle, name);
        if (sym == nullptr) {
            throw std::runtime_error(std::string("FakeControl: missing ") + name);
        }
        slot = reinterpret_cast<Fn>(sym);
    }

    void* m_handle;
    void (*m_reset)() = nullptr;
    void (*m_fail)(const char*, unsigned long, int) = nullptr;
    void (*m_clear_faults)() = nullptr;
    unsigned long (*m_call_count)(const char*) = nullptr;
    void (*m_reset_counts)() = nullptr;
    void (*m_set_max_sessions)(unsigned long) = nullptr;
    unsigned long (*m_open_sessions)() = nullptr;
    void (*m_set_pin_tries)(int) = nullptr;
    void (*m_set_user_pin)(const char*) = nullptr;
    void (*m_remove_token)(unsigned long) = nullptr;
    void (*m_insert_token)(unsigned long) = nullptr;
    void (*m_renumber_slots_on_init)(int) = nullptr;
    void (*m_set_token_flags)(unsigned long, unsigned long) = nullptr;
    void (*m_remove_mechanism)(unsigned long, unsigned long) = nullptr;
    void (*m_set_mechanism_flags)(unsigned long, unsigned long, unsigned long) = nullptr;
    const char* (*m_init_args)() = nullptr;
    int (*m_initialized)() = nullptr;
    void (*m_set_sign_delay_us)(unsigned long) = nullptr;
};
#endif /* __cplusplus */

#endif /* HSMP_TESTS_FAKES_FAKE_CONTROL_H */
