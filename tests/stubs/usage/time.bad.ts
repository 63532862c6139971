async function agent() {
  await codemode.get_current_time({}); // TS2345
  await codemode.get_current_time({ tz: "UTC" }); // TS2353
  const converted = await codemode.convert_time({ source_timezone: "UTC", time: 930, target_timezone: "UTC" }); // TS2322
  converted.target.offset; // TS2339
}
