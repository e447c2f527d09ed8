using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;

namespace MlPipelines.ManagedEngine.IO;

/// <summary>
/// The one way files are identified across the project (export cache keys, saved pipelines, job fingerprints): by
/// content (SHA-256), looked up by path, size and modification time so that an unchanged file is hashed once — per
/// process in memory, and across runs in <c>{cache}/file-hashes.tsv</c>. A changed file changes its size or time, so
/// it is hashed again; two copies of the same file have the same identity wherever they are.
/// </summary>
public static class FileIdentity
{
    private const string StoreFileName = "file-hashes.tsv";
    private static readonly ConcurrentDictionary<Key, string> Known = new();
    private static readonly object StoreLock = new();
    private static string? _loadedStore;

    private readonly record struct Key(string Path, long Length, long ModifiedTicks);

    /// <summary>The lower-case hex SHA-256 of a file's content.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static string Sha256(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        if (!info.Exists)
            throw new FileNotFoundException($"'{info.FullName}' does not exist.", info.FullName);
        var key = new Key(info.FullName, info.Length, info.LastWriteTimeUtc.Ticks);
        LoadStore();
        if (Known.TryGetValue(key, out string? hash))
            return hash;
        using (var stream = new FileStream(info.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (Known.TryAdd(key, hash))
            Remember(key, hash);
        return hash;
    }

    /// <summary>
    /// The identity of several files together, in the order given: one file's own SHA-256, or the SHA-256 of the
    /// files' hashes.
    /// </summary>
    public static string Sha256(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 1)
            return Sha256(files[0]);
        byte[] all = files.SelectMany(f => Convert.FromHexString(Sha256(f))).ToArray();
        return Convert.ToHexStringLower(SHA256.HashData(all));
    }

    // The store is a cache: unreadable lines, a missing or unwritable file only mean hashing again.
    private static void LoadStore()
    {
        string store = Path.Combine(CacheDirectory.Default, StoreFileName);
        if (_loadedStore == store) return;
        lock (StoreLock)
        {
            if (_loadedStore == store) return;
            try
            {
                if (File.Exists(store))
                    foreach (string line in File.ReadLines(store))
                        if (Parse(line) is var (key, hash))
                            Known.TryAdd(key, hash);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            _loadedStore = store;
        }
    }

    private static (Key, string)? Parse(string line)
    {
        string[] f = line.Split('\t');
        if (f.Length != 4 || f[0].Length != 64 || !f[0].All(char.IsAsciiHexDigitLower)) return null;
        if (!long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out long length)) return null;
        if (!long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)) return null;
        return (new Key(f[3], length, ticks), f[0]);
    }

    private static void Remember(Key key, string hash)
    {
        if (key.Path.Contains('\t') || key.Path.Contains('\n')) return;
        string line = string.Create(CultureInfo.InvariantCulture, $"{hash}\t{key.Length}\t{key.ModifiedTicks}\t{key.Path}\n");
        lock (StoreLock)
        {
            try
            {
                Directory.CreateDirectory(CacheDirectory.Default);
                File.AppendAllText(Path.Combine(CacheDirectory.Default, StoreFileName), line);   // one short append: whole lines
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
