/** One entry of Google's `error.errors[]`. */
export interface GoogleErrorItem {
  domain: string;
  reason: string;
  message: string;
  location?: string;
  locationType?: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  411: 'INVALID_ARGUMENT',
  416: 'OUT_OF_RANGE',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** An error answered to the client with Google's JSON error body. Thrown by handlers, caught by the router. */
export class DriveApiError extends Error {
  readonly status: number;
  readonly item: GoogleErrorItem;
  readonly headers: Record<string, string>;

  constructor(status: number, item: GoogleErrorItem, headers: Record<string, string> = {}) {
    super(item.message);
    this.name = 'DriveApiError';
    this.status = status;
    this.item = item;
    this.headers = headers;
  }

  body(): unknown {
    return {
      error: {
        code: this.status,
        message: this.item.message,
        errors: [this.item],
        status: STATUS_TEXT[this.status] ?? 'UNKNOWN',
      },
    };
  }
}

export function notFound(id: string, location = 'fileId'): DriveApiError {
  const message = `File not found: ${id}.`;
  return new DriveApiError(404, { domain: 'global', reason: 'notFound', message, location, locationType: 'parameter' });
}

export function badRequest(message: string): DriveApiError {
  return new DriveApiError(400, { domain: 'global', reason: 'badRequest', message });
}

export function invalidParam(location: string, message = 'Invalid Value'): DriveApiError {
  return new DriveApiError(400, { domain: 'global', reason: 'invalid', message, location, locationType: 'parameter' });
}

export function required(location: string, message: string, locationType: 'parameter' | 'other' = 'other'): DriveApiError {
  return new DriveApiError(400, { domain: 'global', reason: 'required', message, location, locationType });
}

export function sharedDriveNotFound(id: string): DriveApiError {
  return new DriveApiError(404, {
    domain: 'global',
    reason: 'notFound',
    message: `Shared drive not found: ${id}`,
    location: 'driveId',
    locationType: 'parameter',
  });
}

export function insufficientFilePermissions(): DriveApiError {
  return new DriveApiError(403, {
    domain: 'global',
    reason: 'insufficientFilePermissions',
    message: 'The user does not have sufficient permissions for this file.',
  });
}

export function fieldNotWritable(): DriveApiError {
  return new DriveApiError(403, {
    domain: 'global',
    reason: 'fieldNotWritable',
    message: 'The resource body includes fields which are not directly writable.',
  });
}

export function cannotAddParent(): DriveApiError {
  return new DriveApiError(403, {
    domain: 'global',
    reason: 'cannotAddParent',
    message: 'Increasing the number of parents is not allowed. A file can have only one parent.',
  });
}

export function authError(): DriveApiError {
  return new DriveApiError(
    401,
    {
      domain: 'global',
      reason: 'authError',
      message: 'Invalid Credentials',
      location: 'Authorization',
      locationType: 'header',
    },
    { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
  );
}

export function rateLimited(status: 403 | 429): DriveApiError {
  return status === 429
    ? new DriveApiError(429, { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate limit exceeded.' })
    : new DriveApiError(403, { domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' });
}

export function storageQuotaExceeded(): DriveApiError {
  return new DriveApiError(403, {
    domain: 'usageLimits',
    reason: 'storageQuotaExceeded',
    message: "The user's Drive storage quota has been exceeded.",
  });
}

/** Wording Drive uses since 2025 when a service account (no domain-wide delegation) tries to own a file. */
export function serviceAccountNoQuota(): DriveApiError {
  return new DriveApiError(403, {
    domain: 'usageLimits',
    reason: 'storageQuotaExceeded',
    message:
      'Service Accounts do not have storage quota. Leverage shared drives (https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth delegation (http://support.google.com/a/answer/7281227) instead.',
  });
}

export function duplicateId(): DriveApiError {
  return new DriveApiError(409, { domain: 'global', reason: 'duplicate', message: 'A file already exists with the provided ID.' });
}

export function backendError(status: 500 | 503): DriveApiError {
  return status === 503
    ? new DriveApiError(503, { domain: 'global', reason: 'backendError', message: 'The service is currently unavailable.' })
    : new DriveApiError(500, { domain: 'global', reason: 'backendError', message: 'Internal Error' });
}
