using System.Security.Cryptography;
using System.Text.Json;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Repository;

/// <summary>
/// A fresh clone stands alone: the committed models are the files their manifest describes (sha256 published
/// upstream), each with its licence beside it, and no source or test refers to a folder outside the repository.
/// </summary>
public class StandAloneRepositoryTests
{
    public static TheoryData<string, string, long, string> ManifestFiles()
    {
        var data = new TheoryData<string, string, long, string>();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Models, "manifest.json")));
        foreach (var model in doc.RootElement.GetProperty("models").EnumerateArray())
            foreach (var file in model.GetProperty("files").EnumerateArray())
                data.Add(model.GetProperty("name").GetString()!, file.GetProperty("path").GetString()!,
                    file.GetProperty("bytes").GetInt64(), file.GetProperty("sha256").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(ManifestFiles))]
    public void Every_committed_model_file_matches_its_manifest_entry(string model, string file, long bytes, string sha256)
    {
        string path = Path.Combine(TestPaths.Models, model, file);
        Assert.True(File.Exists(path), $"{path} is listed in models/manifest.json but missing");
        Assert.Equal(bytes, new FileInfo(path).Length);
        using var stream = File.OpenRead(path);
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(stream)));
    }

    [Fact]
    public void Every_model_folder_is_in_the_manifest_and_keeps_its_licence()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Models, "manifest.json")));
        var listed = doc.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToHashSet();
        foreach (string dir in Directory.GetDirectories(TestPaths.Models))
        {
            string name = Path.GetFileName(dir);
            Assert.Contains(name, listed);
            Assert.True(File.Exists(Path.Combine(dir, "LICENSE")), $"models/{name} has no LICENSE");
            var files = doc.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == name)
                .GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()).ToHashSet();
            foreach (string file in Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Where(f => f != "LICENSE"))
                Assert.True(files.Contains(file), $"models/{name}/{file} is not listed in models/manifest.json");
        }
    }

    [Fact]
    public void No_source_or_test_refers_to_a_folder_beside_the_repository()
    {
        // Built from parts so that this file does not match itself.
        string[] outside = [".." + "/shared", ".." + "\\shared", "\"..\", \"" + "shared\""];
        string[] kinds = ["*.cs", "*.csproj", "*.props", "*.targets", "*.py", "*.sh"];
        var offenders = new List<string>();
        foreach (string top in new[] { "src", "tests", "bench", ".ci" })
        {
            string root = Path.Combine(TestPaths.RepoRoot, top);
            if (!Directory.Exists(root)) continue;
            foreach (string file in kinds.SelectMany(k => Directory.EnumerateFiles(root, k, SearchOption.AllDirectories)))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
                    continue;
                string text = File.ReadAllText(file);
                if (outside.Any(o => text.Contains(o, StringComparison.Ordinal)))
                    offenders.Add(Path.GetRelativePath(TestPaths.RepoRoot, file));
            }
        }
        Assert.Empty(offenders);
    }
}
