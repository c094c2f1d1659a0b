// Objects on a token, found by URI, and kept usable across fork and re-initialisation.
#pragma once

#include "common/result.hpp"
#include "pkcs11/session_pool.hpp"
#include "pkcs11/token.hpp"

#include <p11uri/uri.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hsmp::p11 {

/// Reads one attribute with the two-call length protocol. A sensitive or absent attribute
/// is an error naming it.
[[nodiscard]] Result<std::vector<std::uint8_t>>
read_attribute(const SessionLease& session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
/// Reads a CK_ULONG-valued attribute (CKA_CLASS, CKA_KEY_TYPE, CKA_MODULUS_BITS...).
[[nodiscard]] Result<CK_ULONG>
read_ulong_attribute(const SessionLease& session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);

/// Runs C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal with `templ`, returning at
/// most `limit` handles. The search is always finalised, also on error.
[[nodiscard]] Result<std::vector<CK_OBJECT_HANDLE>>
find_handles(const SessionLease& session, std::vector<CK_ATTRIBUTE> templ, std::size_t limit);

/// The attributes that name an object again after its handle went stale.
struct ObjectIdentity {
    CK_OBJECT_CLASS cls = CKO_DATA;
    std::vector<std::uint8_t> id;     ///< CKA_ID (may be empty)
    std::optional<std::string> label; ///< CKA_LABEL if the object has one
    bool operator==(const ObjectIdentity&) const = default;
};

/// A handle and the token generation it belongs to, read without a lock so that signing
/// threads sharing a key do not meet on a mutex (and never wait for a thread that was
/// preempted holding it). A seqlock: the writer, serialised by its owner, makes the
/// sequence odd while it writes; a reader retries when the sequence was odd or moved.
class HandleCell {
public:
    HandleCell(CK_OBJECT_HANDLE handle, std::uint64_t generation) noexcept
        : m_generation(generation), m_handle(handle) {}

    /// The handle stored for `generation`, or nullopt (none stored, or another generation).
    [[nodiscard]] std::optional<CK_OBJECT_HANDLE> get(std::uint64_t generation) const noexcept;
    /// Stores a handle; callers serialise writers.
    void set(CK_OBJECT_HANDLE handle, std::uint64_t generation) noexcept;

private:
    std::atomic<std::uint64_t> m_seq{0};
    std::atomic<std::uint64_t> m_generation;
    std::atomic<CK_OBJECT_HANDLE> m_handle;
};

/// An object on a token: identity, key type and a handle that is refreshed, in place,
/// when the token was found again (fork, re-initialisation, device loss). Holders such as
/// an SSL_CTX keep the same Object across all of that.
class Object {
public:
    Object(std::shared_ptr<Token> token, ObjectIdentity identity, CK_KEY_TYPE key_type,
           CK_OBJECT_HANDLE handle, std::uint64_t generation);

    [[nodiscard]] const std::shared_ptr<Token>& token() const noexcept { return m_token; }
    [[nodiscard]] const ObjectIdentity& identity() const noexcept { return m_identity; }
    [[nodiscard]] CK_OBJECT_CLASS object_class() const noexcept { return m_identity.cls; }
    /// CKK_* for keys, CK_UNAVAILABLE_INFORMATION otherwise.
    [[nodiscard]] CK_KEY_TYPE key_type() const noexcept { return m_key_type; }

    /// The handle valid in `session`'s token generation, looked up again if needed.
    Result<CK_OBJECT_HANDLE> handle(const SessionLease& session);

    /// The handle to use for a cryptographic operation: the session-object copy of a
    /// private key when pkcs11-module-cache-keys allows it and the token accepts the copy
    /// (made once per token generation), else handle().
    Result<CK_OBJECT_HANDLE> operation_handle(const SessionLease& session);

    /// The object's canonical URI: token identity, object label, id and type. Never
    /// contains a PIN.
    [[nodiscard]] uri::Uri uri() const;
    /// format_redacted(uri()), for messages.
    [[nodiscard]] std::string describe() const;

private:
    std::shared_ptr<Token> m_token;
    ObjectIdentity m_identity;
    CK_KEY_TYPE m_key_type;
    std::mutex m_mutex;  // serialises writers of the cells below; readers take no lock
    HandleCell m_handle; // the token object's handle
    HandleCell m_copy{CK_INVALID_HANDLE, 0}; // the session-object copy, if any
    std::atomic<bool> m_copy_refused{false}; // the token does not copy this object
};

/// The CK_OBJECT_CLASS for a URI type= value.
[[nodiscard]] CK_OBJECT_CLASS object_class_of(uri::ObjectType type) noexcept;
/// "private key", "certificate", ... for messages.
[[nodiscard]] std::string_view object_class_name(CK_OBJECT_CLASS cls) noexcept;

/// Finds the objects on `token` that match the URI's object attributes (object, id, type,
/// or `cls` when given and the URI has no type). Uses an attribute-filtered search; at most
/// `limit` objects are returned. Logs in first when private objects are asked for and the
/// token requires it.
[[nodiscard]] Result<std::vector<std::shared_ptr<Object>>>
find_objects(const std::shared_ptr<Token>& token, const uri::Uri& uri,
             std::optional<CK_OBJECT_CLASS> cls, std::size_t limit);

} // namespace hsmp::p11
