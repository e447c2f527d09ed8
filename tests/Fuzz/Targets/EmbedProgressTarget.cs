using System.Text;
using MlPipelines.Jobs.EmbedJobs;

namespace MlPipelines.Fuzz.Targets;

/// <summary>
/// An embed job's resume state, <c>OUTPUT.mlpipe-progress</c>: read as a resumed job reads it (ProgressFile.Load), then
/// compared with the job's fingerprint (JobFingerprint.Differences), which decides between resuming and refusing.
/// </summary>
public sealed class EmbedProgressTarget : FuzzTarget
{
    public override int CiInputs => 10000;

    private static readonly SortedDictionary<string, string> Fingerprint = new(StringComparer.Ordinal)
    {
        ["engine"] = "managed",
        ["input"] = "/data/in.csv 1234 sha256:00ff",
        ["model"] = "stories260K.bin sha256:abcd",
        ["pooling"] = "mean",
        ["format"] = "csv",
    };

    public override string Name => "embed-progress";
    public override string EntryPoint => "ProgressFile.Load + JobFingerprint.Differences (an embed job's resume)";
    public override bool IsJson => true;

    public override IReadOnlyList<Type> AllowedExceptions { get; } = [typeof(InvalidDataException), typeof(EmbedJobConflictException)];

    public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds)
    {
        using var scratch = new ScratchDirectory("progress-seed");
        string path = scratch.File("out.csv.mlpipe-progress");
        ProgressFile.Save(path, new ProgressFile.Content(ProgressFile.CurrentVersion, Rows: 120, Bytes: 40960, Parts: 3, Fingerprint));
        byte[] written = File.ReadAllBytes(path);
        var changed = new SortedDictionary<string, string>(Fingerprint, StringComparer.Ordinal) { ["model"] = "other", ["extra"] = "é\u0001" };
        ProgressFile.Save(path, new ProgressFile.Content(ProgressFile.CurrentVersion, Rows: 0, Bytes: 0, Parts: 0, changed));
        return [written, File.ReadAllBytes(path), Encoding.UTF8.GetBytes("""{"Version":1,"Rows":9223372036854775807,"Bytes":1,"Parts":2147483647,"Job":{}}""")];
    }

    public override void Run(byte[] input, ScratchDirectory scratch)
    {
        ProgressFile.Content content = ProgressFile.Load(scratch.Write("out.csv.mlpipe-progress", input));
        JobFingerprint.Differences(content.Job, Fingerprint);
    }
}
