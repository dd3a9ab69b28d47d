// Placeholder: definitions land in this file.
export {};
