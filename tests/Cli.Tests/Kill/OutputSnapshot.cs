using System.IO.Compression;
using System.Text;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// What an output path holds: nothing, one file, or a directory tree (every file by its '/'-separated relative name,
/// symbolic links followed), compared byte for byte.
/// </summary>
internal sealed class OutputSnapshot
{
    private OutputSnapshot(string path, SortedDictionary<string, byte[]>? files)
    {
        Path = path;
        Files = files;
    }

    public string Path { get; }

    /// <summary>The files, or null when the path does not exist.</summary>
    public SortedDictionary<string, byte[]>? Files { get; }

    public bool Exists => Files is not null;

    /// <param name="path">A file or directory.</param>
    /// <param name="canonical">Maps a file's bytes to what is compared (e.g. a zip's entries without their timestamps).</param>
    public static OutputSnapshot Take(string path, Func<byte[], byte[]>? canonical = null)
    {
        canonical ??= bytes => bytes;
        if (File.Exists(path))
            return new(path, new(StringComparer.Ordinal) { [""] = canonical(File.ReadAllBytes(path)) });
        if (!Directory.Exists(path))
            return new(path, null);
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
            files[System.IO.Path.GetRelativePath(path, file).Replace('\\', '/')] = canonical(File.ReadAllBytes(file));
        return new(path, files);
    }

    public bool SameAs(OutputSnapshot other) =>
        Files is null ? other.Files is null
        : other.Files is not null && Files.Keys.SequenceEqual(other.Files.Keys) && Files.All(f => f.Value.AsSpan().SequenceEqual(other.Files[f.Key]));

    public override string ToString() =>
        Files is null ? $"{Path}: absent"
        : $"{Path}: {Files.Count} files ({string.Join(", ", Files.Select(f => $"{(f.Key.Length == 0 ? "file" : f.Key)} {f.Value.Length:N0} B"))})";

    /// <summary>
    /// A zip file's entries in order, each name with its content (nested zips likewise), without the timestamps a zip
    /// records: two saves of the same content at different moments compare equal, a torn or different one does not.
    /// </summary>
    public static byte[] ZipEntries(byte[] zip)
    {
        var listing = new MemoryStream();
        using (var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
        {
            foreach (ZipArchiveEntry entry in archive.Entries)
            {
                using var content = new MemoryStream();
                using (Stream s = entry.Open()) s.CopyTo(content);
                byte[] bytes = content.ToArray();
                if (bytes.Length >= 4 && bytes[0] == (byte)'P' && bytes[1] == (byte)'K' && bytes[2] == 3 && bytes[3] == 4)
                    bytes = ZipEntries(bytes);
                listing.Write(Encoding.UTF8.GetBytes($"{entry.FullName}\n{bytes.Length}\n"));
                listing.Write(bytes);
            }
        }
        return listing.ToArray();
    }

    /// <summary>Copies a file or directory tree (used to put a previous output back before each kill).</summary>
    public static void Copy(string from, string to)
    {
        if (File.Exists(from))
        {
            File.Copy(from, to, overwrite: true);
            return;
        }
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    /// <summary>Deletes a file or directory tree if it exists.</summary>
    public static void Delete(string path)
    {
        if (File.Exists(path)) File.Delete(path);
        else if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }
}
