/**
 * Inputs are validated with zod's tree-shakable "mini" build (a few KiB in the bundle instead of
 * ~90 KiB gzip for the classic one). Import this module once, before any parsing, for English
 * messages; schemas import `* as z from "zod/mini"` themselves so unused parts are dropped.
 */
import { en } from "zod/locales";
import { config } from "zod/mini";

config(en());
