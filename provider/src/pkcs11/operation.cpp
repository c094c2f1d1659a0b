#include "pkcs11/operation.hpp"

#include "pkcs11/observe.hpp"

namespace hsmp::p11 {

namespace {

// One C_SignInit + C_Sign into `out`. With `ask_length` the length is asked for first
// (C_Sign with a NULL buffer) and `out` is then resized: only for callers with no idea of
// the size.
template <class Out>
Result<std::size_t> sign_on_token(Object& key, const Mechanism& mechanism,
                                  std::span<const std::uint8_t> data, Out& out, bool ask_length) {
    Token& token = *key.token();
    return token.with_session([&](SessionLease& session) -> Result<std::size_t> {
        auto handle = key.operation_handle(session);
        if (!handle) {
            return handle.error();
        }
        const Module& mod = session.module();
        CK_MECHANISM mech{mechanism.type, mechanism.parameter, mechanism.parameter_len};
        session.begin_operation();
        CK_RV rv = mod.call("C_SignInit", &CK_FUNCTION_LIST::C_SignInit, session.handle(), &mech,
                            handle.value());
        if (rv != CKR_OK) {
            session.end_operation(); // a failed Init leaves no operation active
            return rv_error("C_SignInit", rv, key.describe());
        }
        auto* in = const_cast<CK_BYTE*>(data.data()); // NOLINT: PKCS#11 is not const-correct
        CK_ULONG len = static_cast<CK_ULONG>(out.size());
        if (ask_length) {
            // C_Sign with a NULL buffer returns the length and keeps the operation active.
            rv = mod.call("C_Sign", &CK_FUNCTION_LIST::C_Sign, session.handle(), in,
                          static_cast<CK_ULONG>(data.size()), nullptr, &len);
            if (rv != CKR_OK) {
                session.end_operation(); // any error other than buffer-too-small ends it
                return rv_error("C_Sign", rv, key.describe());
            }
            if constexpr (requires { out.resize(std::size_t{}); }) {
                out.resize(len);
            }
        }
        rv = mod.call("C_Sign", &CK_FUNCTION_LIST::C_Sign, session.handle(), in,
                      static_cast<CK_ULONG>(data.size()), out.data(), &len);
        if (rv == CKR_BUFFER_TOO_SMALL) {
            // Operation still active: the session must not be reused as clean.
            return rv_error("C_Sign", rv, key.describe());
        }
        session.end_operation();
        if (rv != CKR_OK) {
            return rv_error("C_Sign", rv, key.describe());
        }
        return static_cast<std::size_t>(len);
    });
}

} // namespace

Result<std::size_t> sign_into(Object& key, const Mechanism& mechanism,
                              std::span<const std::uint8_t> data, std::span<std::uint8_t> out) {
    // One event per signature, whatever happened inside (session wait, one recovery).
    return observed(obs::Operation::Sign, key, mechanism.type,
                    [&] { return sign_on_token(key, mechanism, data, out, false); });
}

Result<std::vector<std::uint8_t>> sign(Object& key, const Mechanism& mechanism,
                                       std::span<const std::uint8_t> data, std::size_t size_hint) {
    std::vector<std::uint8_t> out(size_hint);
    auto len = observed(obs::Operation::Sign, key, mechanism.type,
                        [&] { return sign_on_token(key, mechanism, data, out, size_hint == 0); });
    if (!len) {
        return len.error();
    }
    out.resize(len.value());
    return out;
}

} // namespace hsmp::p11
