using System.Text.Json;

namespace MlPipelines.ChatTemplates.Tests;

/// <summary>The committed reference: real templates (data/templates), and jinja2's renders of them (data/expected.json).</summary>
internal static class ReferenceData
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "data");

    private static readonly Lazy<JsonElement> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json"))).RootElement);

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "templates.json"))).RootElement);

    /// <summary>The clock render_reference.py gives strftime_now.</summary>
    public static TimeProvider FixedClock => new FixedTimeProvider(DateTime.Parse(Expected.Value.GetProperty("fixed_now").GetString()!,
        System.Globalization.CultureInfo.InvariantCulture));

    public static JsonElement TemplateEntry(string name) =>
        Manifest.Value.EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);

    public static string TemplateSource(string name) =>
        File.ReadAllText(Path.Combine(Folder, "templates", name + ".jinja"));

    public static IEnumerable<JsonElement> TemplateCases => Expected.Value.GetProperty("template_cases").EnumerateArray();

    public static IEnumerable<JsonElement> SnippetCases => Expected.Value.GetProperty("snippet_cases").EnumerateArray();

    public static JsonElement Conversation(string name) => Expected.Value.GetProperty("conversations").GetProperty(name);

    private sealed class FixedTimeProvider(DateTime local) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), TimeSpan.Zero);
        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
