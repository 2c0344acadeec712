/**
 * Errors the API answers with: `{"error": {"code", "message"}}` and the HTTP status the contract
 * gives each kind (docs/manager.md): 400 malformed request, 401 no or bad token, 404 no such VM
 * or snapshot, 409 wrong state or name taken, 422 well-formed but unusable, 500 the daemon failed.
 */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 422 | 500,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, 'invalid-request', message);
export const notFound = (what: string) => new ApiError(404, 'not-found', `${what} does not exist`);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
/** A VM living in a browser tab runs nowhere else: the message says where it is and how it comes back. */
const IN_BROWSER_HINT =
  ' (it runs in a browser tab: send it back from the tab, or end that with DELETE /v1/vms/NAME/browser)';
export const wrongState = (name: string, state: string, action: string) =>
  new ApiError(
    409,
    'wrong-state',
    `VM '${name}' is ${state}: cannot ${action} it${state === 'in-browser' ? IN_BROWSER_HINT.replace('NAME', name) : ''}`,
  );
export const unusable = (message: string) => new ApiError(422, 'unusable', message);
