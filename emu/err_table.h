/*
 * The one error table of rdsemu (X-macro; included by err.h and err.c only).
 *
 * Columns: symbol, JSON __type, Query <Code>, HTTP status for the JSON
 * protocol, HTTP status for the Query protocol, PostgreSQL SQLSTATE, MySQL
 * errno, default message.  A row is raised once where the failure happens
 * (emu_err_set) and rendered in one place per protocol (api/http.c for the
 * AWS APIs, wire/ for the database protocols).  Sources for codes, statuses
 * and texts: shared docs aws-behaviour.md sections 1.5, 5.10.
 */
/* generic */
X(INTERNAL, "InternalServiceError", "InternalFailure", 500, 500, "XX000", 1105, "An error occurred on the server side.")
X(NOT_FOUND_ROUTE, "UnknownOperationException", "InvalidAction", 404, 404, "", 0, "Not found")
X(METHOD_NOT_ALLOWED, "UnknownOperationException", "InvalidAction", 405, 405, "", 0, "Method not allowed")
X(REQUEST_TOO_LARGE, "RequestEntityTooLargeException", "RequestEntityTooLarge", 413, 413, "", 0, "Request body is larger than the service accepts.")
X(SERIALIZATION, "SerializationException", "MalformedQueryString", 400, 400, "", 0, "")
X(UNKNOWN_OPERATION, "UnknownOperationException", "InvalidAction", 400, 400, "", 0, "")
X(VALIDATION, "ValidationException", "ValidationError", 400, 400, "", 0, "")
X(MISSING_PARAMETER, "ValidationException", "MissingParameter", 400, 400, "", 0, "")
X(INVALID_PARAMETER_VALUE, "ValidationException", "InvalidParameterValue", 400, 400, "", 0, "")
X(THROTTLING, "ThrottlingException", "Throttling", 400, 400, "", 0, "Rate exceeded")
/* SigV4 and identity (section 1.5) */
X(MISSING_AUTH, "MissingAuthenticationTokenException", "MissingAuthenticationToken", 400, 403, "28000", 1045, "Request is missing Authentication Token")
X(INCOMPLETE_SIGNATURE, "IncompleteSignatureException", "IncompleteSignature", 400, 400, "28000", 1045, "")
X(UNRECOGNIZED_CLIENT, "UnrecognizedClientException", "InvalidClientTokenId", 400, 403, "28000", 1045, "The security token included in the request is invalid.")
X(INVALID_SIGNATURE, "InvalidSignatureException", "SignatureDoesNotMatch", 400, 403, "28000", 1045, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
X(EXPIRED_TOKEN, "ExpiredTokenException", "ExpiredToken", 400, 403, "28000", 1045, "The security token included in the request is expired")
X(ACCESS_DENIED, "AccessDeniedException", "AccessDenied", 400, 403, "28000", 1045, "Access denied")
/* Secrets Manager modelled exceptions (section 5.10) */
X(SM_DECRYPTION_FAILURE, "DecryptionFailure", "DecryptionFailure", 400, 400, "", 0, "")
X(SM_ENCRYPTION_FAILURE, "EncryptionFailure", "EncryptionFailure", 400, 400, "", 0, "")
X(SM_INVALID_NEXT_TOKEN, "InvalidNextTokenException", "InvalidNextToken", 400, 400, "", 0, "The NextToken value is invalid.")
X(SM_INVALID_PARAMETER, "InvalidParameterException", "InvalidParameter", 400, 400, "", 0, "")
X(SM_INVALID_REQUEST, "InvalidRequestException", "InvalidRequest", 400, 400, "", 0, "")
X(SM_LIMIT_EXCEEDED, "LimitExceededException", "LimitExceeded", 400, 400, "", 0, "")
X(SM_MALFORMED_POLICY, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, 400, "", 0, "")
X(SM_PRECONDITION_NOT_MET, "PreconditionNotMetException", "PreconditionNotMet", 400, 400, "", 0, "")
X(SM_PUBLIC_POLICY, "PublicPolicyException", "PublicPolicy", 400, 400, "", 0, "")
X(SM_RESOURCE_EXISTS, "ResourceExistsException", "ResourceExists", 400, 400, "", 0, "")
X(SM_RESOURCE_NOT_FOUND, "ResourceNotFoundException", "ResourceNotFound", 400, 400, "", 0, "Secrets Manager can't find the specified secret.")
/* CloudTrail (LookupEvents over the audit trail) */
X(CT_INVALID_LOOKUP_ATTRIBUTES, "InvalidLookupAttributesException", "InvalidLookupAttributes", 400, 400, "", 0, "")
X(CT_INVALID_TIME_RANGE, "InvalidTimeRangeException", "InvalidTimeRange", 400, 400, "", 0, "")
X(CT_INVALID_MAX_RESULTS, "InvalidMaxResultsException", "InvalidMaxResults", 400, 400, "", 0, "")
X(IAM_MALFORMED_POLICY, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, 400, "", 0, "Syntax errors in policy.")
X(IAM_LIMIT_EXCEEDED, "LimitExceededException", "LimitExceeded", 409, 409, "", 0, "")
X(IAM_NO_SUCH_ENTITY, "NoSuchEntityException", "NoSuchEntity", 404, 404, "", 0, "")
X(IAM_ENTITY_EXISTS, "EntityAlreadyExistsException", "EntityAlreadyExists", 409, 409, "", 0, "")
X(IAM_DELETE_CONFLICT, "DeleteConflictException", "DeleteConflict", 409, 409, "", 0, "")
X(IAM_INVALID_INPUT, "InvalidInputException", "InvalidInput", 400, 400, "", 0, "")
/* KMS (emu/kms*.c; KMS API reference, aws-behaviour.md has no KMS section) */
X(KMS_NOT_FOUND, "NotFoundException", "NotFound", 400, 400, "", 0, "")
X(KMS_DISABLED, "DisabledException", "Disabled", 400, 400, "", 0, "")
X(KMS_INVALID_STATE, "KMSInvalidStateException", "KMSInvalidState", 400, 400, "", 0, "")
X(KMS_INVALID_CIPHERTEXT, "InvalidCiphertextException", "InvalidCiphertext", 400, 400, "", 0, "")
X(KMS_INCORRECT_KEY, "IncorrectKeyException", "IncorrectKey", 400, 400, "", 0, "The key ID in the request does not identify a CMK that can perform this operation.")
X(KMS_ALREADY_EXISTS, "AlreadyExistsException", "AlreadyExists", 400, 400, "", 0, "")
X(KMS_INVALID_ALIAS_NAME, "InvalidAliasNameException", "InvalidAliasName", 400, 400, "", 0, "")
X(KMS_INVALID_MARKER, "InvalidMarkerException", "InvalidMarker", 400, 400, "", 0, "")
X(KMS_INVALID_KEY_USAGE, "InvalidKeyUsageException", "InvalidKeyUsage", 400, 400, "", 0, "")
X(KMS_UNSUPPORTED, "UnsupportedOperationException", "UnsupportedOperation", 400, 400, "", 0, "")
X(KMS_MALFORMED_POLICY, "MalformedPolicyDocumentException", "MalformedPolicyDocument", 400, 400, "", 0, "")
X(KMS_TAG, "TagException", "TagException", 400, 400, "", 0, "")
X(KMS_DRY_RUN, "DryRunOperationException", "DryRunOperation", 400, 400, "", 0, "The request would have succeeded, but the DryRun parameter was set.")
/* RDS (Query codes and statuses from botocore's rds model; aws-behaviour.md 4.4) */
X(INVALID_PARAMETER_COMBINATION, "ValidationException", "InvalidParameterCombination", 400, 400, "", 0, "")
X(RDS_DB_INSTANCE_NOT_FOUND, "DBInstanceNotFoundFault", "DBInstanceNotFound", 404, 404, "", 0, "")
X(RDS_DB_INSTANCE_EXISTS, "DBInstanceAlreadyExistsFault", "DBInstanceAlreadyExists", 400, 400, "", 0, "")
X(RDS_INVALID_DB_INSTANCE_STATE, "InvalidDBInstanceStateFault", "InvalidDBInstanceState", 400, 400, "", 0, "")
X(RDS_DB_CLUSTER_NOT_FOUND, "DBClusterNotFoundFault", "DBClusterNotFoundFault", 404, 404, "", 0, "")
X(RDS_TAG_QUOTA, "TagQuotaPerResourceExceeded", "TagQuotaPerResourceExceeded", 400, 400, "", 0, "")
