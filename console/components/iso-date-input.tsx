// A day field that reads and writes ISO 8601 days (yyyy-mm-dd) whatever the browser's locale: a
// native date input shows the locale's order (mm/dd/yyyy in en-US) beside the console's ISO dates.
// Server-safe; the server validates the value again (lib/format/usage-query.ts).

/** A text field for one UTC day as yyyy-mm-dd, checked by the browser before the form is sent. */
export function IsoDateInput({ id, name, defaultValue, required = false }: { id: string; name: string; defaultValue: string; required?: boolean }) {
  return (
    <input
      id={id}
      name={name}
      type="text"
      className="iso-date"
      inputMode="numeric"
      pattern="\d{4}-\d{2}-\d{2}"
      placeholder="yyyy-mm-dd"
      title="A day as yyyy-mm-dd (UTC)"
      maxLength={10}
      autoComplete="off"
      spellCheck={false}
      defaultValue={defaultValue}
      required={required}
    />
  );
}
