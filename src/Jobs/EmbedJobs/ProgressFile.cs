using System.Text.Json;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// The sidecar <c>OUTPUT.mlpipe-progress</c> of an unfinished job: how many rows are committed, where the
/// committed output ends, and the job's fingerprint. It is replaced atomically (write a temporary file,
/// rename it over), so it always describes one complete commit; it is deleted when the job completes,
/// which is how a complete output is told from an unfinished one.
/// </summary>
internal static class ProgressFile
{
    public const int CurrentVersion = 1;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The recorded state.</summary>
    public sealed record Content(int Version, long Rows, long Bytes, int Parts, SortedDictionary<string, string> Job);

    public static string PathFor(string output) => output + ".mlpipe-progress";

    public static Content Load(string path)
    {
        Content? content;
        try
        {
            content = JsonSerializer.Deserialize<Content>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new EmbedJobConflictException($"{path}: not a readable progress file ({e.Message}). Start over to replace it (EmbedJobOptions.Restart).");
        }
        if (content is null || content.Version != CurrentVersion || content.Job is null || content.Rows < 0 || content.Bytes < 0 || content.Parts < 0)
            throw new EmbedJobConflictException($"{path}: not a progress file of this version of mlpipe. Start over to replace it (EmbedJobOptions.Restart).");
        return content;
    }

    public static void Save(string path, Content content)
    {
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(content, Json));
        File.Move(temp, path, overwrite: true);
    }
}
