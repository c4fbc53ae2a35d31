/**
 * Typed errors. Every error a user can cause (bad file, bad argument, bad request) is a FennecError:
 * the CLI prints its message on one line and exits 1; the server (later) maps `status` to HTTP.
 */
export class FennecError extends Error {
  /** HTTP status this error maps to when it reaches the server. */
  readonly status: number = 500;
  readonly code: string = "internal_error";
}

/** A model, tokenizer or config file that is missing, truncated, corrupt or unsupported. */
export class ModelFileError extends FennecError {
  override readonly status = 400;
  override readonly code = "invalid_model_file";
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, problem: string) {
    super(`${file}: ${field}: ${problem}`);
    this.name = "ModelFileError";
    this.file = file;
    this.field = field;
  }
}

/** An unsupported architecture, tensor type or feature in an otherwise valid file. */
export class UnsupportedError extends ModelFileError {
  constructor(file: string, field: string, problem: string) {
    super(file, field, problem);
    this.name = "UnsupportedError";
  }
}

/** A bad argument from a caller (CLI flag, library option, request parameter). */
export class InvalidArgumentError extends FennecError {
  override readonly status = 400;
  override readonly code = "invalid_argument";
  readonly param: string;
  constructor(param: string, problem: string) {
    super(`${param}: ${problem}`);
    this.name = "InvalidArgumentError";
    this.param = param;
  }
}
