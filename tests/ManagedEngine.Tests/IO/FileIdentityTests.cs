using System.Security.Cryptography;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.IO;

/// <summary>
/// The one file-identity scheme: content (SHA-256, checked here against the BCL's own hash), found by path, size and
/// modification time, and remembered across runs in the cache folder.
/// </summary>
[Collection(nameof(FileIdentityTests))]
public class FileIdentityTests
{
    [Fact]
    public void A_file_is_identified_by_its_content_wherever_it_is()
    {
        using var dir = new TempDir();
        using var cache = new EnvironmentScope(CacheDirectory.EnvironmentVariable, dir.File("cache"));
        byte[] content = [.. Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7))];
        File.WriteAllBytes(dir.File("a.bin"), content);
        File.WriteAllBytes(dir.File("b.bin"), content);

        string expected = Convert.ToHexStringLower(SHA256.HashData(content));
        Assert.Equal(expected, FileIdentity.Sha256(dir.File("a.bin")));
        Assert.Equal(expected, FileIdentity.Sha256(dir.File("b.bin")));
    }

    [Fact]
    public void A_changed_file_is_hashed_again()
    {
        using var dir = new TempDir();
        using var cache = new EnvironmentScope(CacheDirectory.EnvironmentVariable, dir.File("cache"));
        string file = dir.File("model.bin");
        File.WriteAllBytes(file, [1, 2, 3]);
        string before = FileIdentity.Sha256(file);
        File.WriteAllBytes(file, [1, 2, 3, 4]);
        Assert.NotEqual(before, FileIdentity.Sha256(file));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData([1, 2, 3, 4])), FileIdentity.Sha256(file));
    }

    [Fact]
    public void Several_files_are_identified_by_their_hashes_in_order()
    {
        using var dir = new TempDir();
        using var cache = new EnvironmentScope(CacheDirectory.EnvironmentVariable, dir.File("cache"));
        File.WriteAllBytes(dir.File("x"), [1]);
        File.WriteAllBytes(dir.File("y"), [2]);
        byte[] joined = [.. SHA256.HashData([1]), .. SHA256.HashData([2])];
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(joined)), FileIdentity.Sha256([dir.File("x"), dir.File("y")]));
        Assert.NotEqual(FileIdentity.Sha256([dir.File("x"), dir.File("y")]), FileIdentity.Sha256([dir.File("y"), dir.File("x")]));
    }

    [Fact]
    public void Hashes_are_remembered_in_the_cache_folder_and_a_damaged_store_is_only_a_cache()
    {
        using var dir = new TempDir();
        using var cache = new EnvironmentScope(CacheDirectory.EnvironmentVariable, dir.File("cache"));
        string file = dir.File("weights.bin");
        File.WriteAllBytes(file, [9, 9, 9]);
        string hash = FileIdentity.Sha256(file);
        string store = Path.Combine(dir.File("cache"), "file-hashes.tsv");
        Assert.Contains(store, Directory.GetFiles(dir.File("cache")));
        Assert.Contains(File.ReadAllLines(store), line => line.StartsWith(hash + "\t3\t", StringComparison.Ordinal) && line.EndsWith("\t" + file, StringComparison.Ordinal));

        using var other = new EnvironmentScope(CacheDirectory.EnvironmentVariable, dir.File("cache2"));
        Directory.CreateDirectory(dir.File("cache2"));
        File.WriteAllText(Path.Combine(dir.File("cache2"), "file-hashes.tsv"), "garbage\nnot\ta\thash\tline\n");
        Assert.Equal(hash, FileIdentity.Sha256(file));
    }
}

[CollectionDefinition(nameof(FileIdentityTests), DisableParallelization = true)]
public sealed class FileIdentityCollection;
