async function agent() {
  const now = await codemode.get_current_time({ timezone: "Europe/Oslo" });
  const converted = await codemode.convert_time({
    source_timezone: "Europe/Oslo",
    time: "09:30",
    target_timezone: now.timezone,
  });
  const dst: boolean = converted.target.is_dst || now.is_dst;
  return `${converted.source.datetime} -> ${converted.target.datetime} (${converted.time_difference}, ${dst})`;
}
