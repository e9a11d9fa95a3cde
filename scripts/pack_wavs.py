"""Pack a folder of WAV files into one lossless PCM pack (mcuforge/data/ingest/pcm_pack.py).

    python -m scripts.pack_wavs <folder of .wav files> <out.npz> [sample rate, default 8000]

How datasets/fsdd/fsdd.npz was made from the FSDD repository's recordings/ folder. Every file is
read with the project's WAV reader (so it passes the same checks) and kept bit for bit.
"""
from __future__ import annotations

import sys
from pathlib import Path

from mcuforge.data.ingest.pcm_pack import write_pack
from mcuforge.data.ingest.wav_read import read_wav
from mcuforge.errors import stage_main


@stage_main
def main(argv: list[str]) -> None:
    folder, out = Path(argv[0]), Path(argv[1])
    rate = int(argv[2]) if len(argv) > 2 else 8000
    files = sorted(folder.glob("*.wav"))
    clips = [read_wav(path, rate, resample=False) for path in files]
    write_pack(out, [path.name for path in files], clips, rate)
    print(f"packed {len(files)} files, {sum(map(len, clips)):,} samples at {rate} Hz -> {out} "
          f"({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
