/**
 * Placeholder: this area arrives with its issue.
 * @module
 */
export {};
