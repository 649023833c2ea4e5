using System.Numerics;

namespace Iwae.Autodiff;

/// <summary>
/// Bump allocator for the tensors of one step. <see cref="Allocate"/> hands out slices of large chunks;
/// <see cref="Reset"/> rewinds to the start without freeing. A step that asks for the same sizes in the
/// same order as the one before it is served from the same chunks, so it allocates nothing.
/// </summary>
public sealed class Arena<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<T[]> _chunks = new();
    private readonly int _chunkSize;
    private int _chunk;
    private int _used;

    /// <param name="chunkSize">Elements per chunk; larger requests get a chunk of their own size.</param>
    public Arena(int chunkSize = 1 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        _chunkSize = chunkSize;
    }

    /// <summary>Total elements held in chunks.</summary>
    public long Capacity
    {
        get
        {
            long n = 0;
            foreach (var c in _chunks) n += c.Length;
            return n;
        }
    }

    /// <summary>A rows x cols tensor. Its contents are undefined unless <paramref name="zero"/> is true.</summary>
    public Tensor<T> Allocate(int rows, int cols, bool zero = false)
    {
        int n = checked(rows * cols);
        while (true)
        {
            if (_chunk < _chunks.Count)
            {
                var buf = _chunks[_chunk];
                if (buf.Length - _used >= n)
                {
                    var t = new Tensor<T>(buf, _used, rows, cols);
                    _used += n;
                    if (zero) Kernels.Elementwise.Clear(t.Span);
                    return t;
                }
                _chunk++;
                _used = 0;
                continue;
            }
            _chunks.Add(new T[Math.Max(n, _chunkSize)]);
        }
    }

    /// <summary>Makes every chunk available again. Tensors handed out before become invalid.</summary>
    public void Reset()
    {
        _chunk = 0;
        _used = 0;
    }
}
