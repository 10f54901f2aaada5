import { Type, type TSchema } from '@sinclair/typebox';

/** A required text field as DRF's CharField: a string, not blank. */
export const Text = (options: { maxLength?: number } = {}) => Type.String({ minLength: 1, pattern: '\\S', ...options });

/** An object body whose other properties are ignored, as DRF serializers ignore unknown fields. */
export const Body = <T extends Record<string, TSchema>>(properties: T) => Type.Object(properties, { additionalProperties: true });
