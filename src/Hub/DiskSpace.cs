namespace MlPipelines.Hub;

/// <summary>Running out of disk: checked before a pull starts, and recognised when a write fails anyway.</summary>
internal static class DiskSpace
{
    /// <summary>
    /// ENOSPC (28) on Unix, where .NET puts the errno in <see cref="Exception.HResult"/>; ERROR_DISK_FULL (0x70)
    /// or ERROR_HANDLE_DISK_FULL (0x27) on Windows, as an HRESULT or a bare code.
    /// </summary>
    public static bool IsDiskFull(IOException e)
    {
        int hr = e.HResult;
        if (OperatingSystem.IsWindows())
            return (hr & 0xFFFF) is 0x70 or 0x27 && (hr == (hr & 0xFFFF) || (hr & 0xFFFF0000) == 0x80070000);
        return hr == 28;
    }

    /// <summary>The error for a write that failed on a full disk.</summary>
    public static HubException Full(string directory, IOException e) =>
        new(HubErrorKind.DiskFull, $"not enough disk space in {directory}", e);

    /// <summary>
    /// Fails early when <paramref name="directory"/>'s drive has less than <paramref name="needed"/> bytes free, rather
    /// than hours into a download. When free space cannot be read the pull goes ahead (writes still report a full disk).
    /// </summary>
    public static void EnsureAvailable(string directory, long needed, Func<string, long?>? freeSpace = null)
    {
        if (needed <= 0) return;
        long? free = (freeSpace ?? FreeBytes)(directory);
        if (free is long available && available < needed)
            throw new HubException(HubErrorKind.DiskFull,
                $"not enough disk space in {directory}: the download needs {ByteSize.Format(needed)} ({needed:N0} bytes) " +
                $"but only {ByteSize.Format(available)} ({available:N0} bytes) is free");
    }

    /// <summary>Free bytes for the current user on the drive holding <paramref name="directory"/>, or null if unknown.</summary>
    public static long? FreeBytes(string directory)
    {
        try
        {
            // DriveInfo on Unix takes any path and asks statvfs about its file system; on Windows it wants the root.
            string root = OperatingSystem.IsWindows() ? Path.GetPathRoot(Path.GetFullPath(directory))! : Path.GetFullPath(directory);
            return new DriveInfo(root).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
