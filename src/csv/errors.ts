/** The file as a whole cannot be read (binary, undecodable, no header): nothing in it is applied. */
export class CsvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvFileError';
  }
}
