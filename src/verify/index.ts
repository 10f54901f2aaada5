// Placeholder so the build and package exports resolve; the real entry point replaces this file.
export {};
