import { z } from "zod";

/** The longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2_048;

/** A webhook URL: absolute http or https, with a host, at most MAX_WEBHOOK_URL_LENGTH characters. */
export const webhookUrl = z
  .string()
  .max(MAX_WEBHOOK_URL_LENGTH, `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`)
  .refine((text) => {
    if (!URL.canParse(text)) return false;
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  }, "must be an absolute http or https URL");
