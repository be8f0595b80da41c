"""The project's own word lists for the subject rule (`subject.py`): things and their kinds,
people, what a prompt says around its subject, words of the same meaning, and the Chinese words a
bilingual check can read. Data only: no WordNet or thesaurus is reachable offline, so these stay
small and are extended where a real answer shows a gap."""

from __future__ import annotations

# Animals by species, in groups of words for the same animal (breeds with their species), so
# that "puppy" or "corgi" for "dog" is not an invention.
ANIMAL_GROUPS = (
    "dog dogs puppy puppies pup pups hound hounds doggy corgi corgis poodle poodles labrador "
    "retriever retrievers husky huskies beagle beagles terrier terriers bulldog bulldogs dachshund "
    "pug pugs chihuahua collie spaniel rottweiler doberman greyhound shiba samoyed dalmatian "
    "pomeranian schnauzer mastiff",
    "cat cats kitten kittens kitty feline tabby siamese",
    "horse horses pony ponies foal stallion mare", "cow cows cattle calf calves bull bulls ox oxen",
    "sheep lamb lambs ram ewe", "goat goats", "pig pigs piglet hog", "deer fawn stag", "elk moose",
    "bear bears", "panda pandas", "koala koalas", "kangaroo kangaroos", "lion lions lioness",
    "tiger tigers", "leopard leopards", "cheetah cheetahs", "jaguar jaguars", "wolf wolves",
    "fox foxes", "rabbit rabbits bunny bunnies hare hares", "squirrel squirrels",
    "mouse mice rat rats hamster hamsters", "monkey monkeys ape apes gorilla gorillas chimpanzee",
    "elephant elephants", "giraffe giraffes", "zebra zebras", "rhino rhinos rhinoceros",
    "hippo hippos hippopotamus", "camel camels", "llama llamas alpaca alpacas", "donkey donkeys mule",
    "eagle eagles hawk hawks falcon falcons", "owl owls", "parrot parrots", "penguin penguins",
    "swan swans", "duck ducks duckling ducklings", "goose geese", "chicken chickens hen hens rooster",
    "pigeon pigeons dove doves", "crow crows raven ravens", "seagull seagulls gull gulls",
    "flamingo flamingos", "peacock peacocks", "ostrich ostriches", "sparrow sparrows robin robins",
    "hummingbird hummingbirds", "heron herons stork storks", "pelican pelicans",
    "woodpecker woodpeckers", "whale whales", "dolphin dolphins", "shark sharks", "seal seals",
    "otter otters", "octopus octopuses", "jellyfish", "turtle turtles tortoise tortoises",
    "crab crabs lobster lobsters", "frog frogs toad toads", "snake snakes serpent",
    "lizard lizards", "crocodile crocodiles alligator alligators", "dinosaur dinosaurs",
    "dragon dragons", "unicorn unicorns", "butterfly butterflies", "bee bees", "spider spiders",
    "beetle beetles", "plankton", "fish fishes goldfish koi", "ant ants", "dragonfly dragonflies",
    "ladybug ladybugs", "moth moths",
)

# Other things models name with another word of the same meaning.
SAME_THING = (
    "bike bikes bicycle bicycles", "car cars automobile automobiles", "motorcycle motorcycles motorbike",
    "plane planes airplane airplanes aeroplane aircraft jet jets airliner",
    "boat boats ship ships vessel", "photo photos photograph photographs", "sofa couch",
    "tv television", "drier dryer", "ocean sea", "cup mug", "road street", "city town", "forest woods",
)

# The objects of COCO's 80 detection classes (by their head noun), which VBench's and most
# benchmarks' object prompts are made of: a thing the user named must be in the answer.
COCO_THINGS = (
    "bus train truck hydrant sign meter bench backpack umbrella handbag tie suitcase frisbee skis "
    "snowboard ball kite bat glove skateboard surfboard racket bottle glass fork knife spoon bowl "
    "banana apple sandwich orange broccoli carrot pizza donut cake chair plant bed table toilet "
    "laptop remote keyboard phone microwave oven toaster sink refrigerator book clock vase "
    "scissors drier toothbrush"
)

BIRDS = ("eagle owl parrot penguin swan duck goose chicken pigeon crow seagull flamingo peacock "
          "ostrich sparrow hummingbird heron pelican woodpecker")

INSECTS = "butterfly bee beetle ant dragonfly ladybug moth"

# A category word and the words that name a kind of it.
CATEGORIES = {
    "bird": BIRDS, "birds": BIRDS,
    "insect": INSECTS, "insects": INSECTS, "bug": INSECTS, "bugs": INSECTS,
    "fish": "shark goldfish koi", "pet": "dog cat rabbit hamster parrot",
    "vehicle": "car bicycle motorcycle bus truck train tram van taxi",
    "vehicles": "car bicycle motorcycle bus truck train tram van taxi",
    "flower": "rose tulip sunflower daisy lily orchid lotus peony poppy lavender",
    "flowers": "rose tulip sunflower daisy lily orchid lotus peony poppy lavender",
    "tree": "oak pine maple birch willow palm cedar cypress", "trees": "oak pine maple birch willow palm",
}

ANIMAL_CATEGORIES = frozenset({"animal", "animals", "creature", "creatures", "wildlife", "beast", "mammal"})

# People: nouns and pronouns that put a human in the picture. Words that are as often something
# else ("boxer" the dog, "fan" the device, "model" the object, "couple" of trees) are left out,
# so a hit is almost always a person.
PERSON_WORDS = (
    "person persons people man men woman women girl girls boy boys child children kid kids baby "
    "babies toddler toddlers teen teens teenager teenagers lady ladies gentleman gentlemen guy guys "
    "someone somebody anyone anybody everyone everybody human humans crowd crowds family families "
    "he she him her his hers himself viewer viewers "
    "herself mother father mom dad son daughter brother sister wife husband bride groom friend "
    "friends player players athlete athletes dancer dancers rider riders cyclist cyclists driver "
    "drivers pilot pilots astronaut astronauts soldier soldiers worker workers farmer farmers chef "
    "chefs artist artists painter painters musician musicians singer singers performer performers "
    "photographer photographers tourist tourists visitor visitors pedestrian pedestrians passersby passenger "
    "passengers shopper shoppers customer customers audience spectator spectators onlooker "
    "onlookers bystander bystanders jogger joggers runner runners skier skiers surfer surfers "
    "swimmer swimmers hiker hikers climber climbers traveler travelers traveller travellers actor "
    "actors actress actresses officer officers nurse nurses doctor doctors teacher teachers student "
    "students businessman businesswoman king queen prince princess knight knights warrior warriors "
    "participant participants attendee attendees guest guests employee employees staff resident "
    "residents locals enthusiast enthusiasts craftsman craftsmen team "
    "wizard witch character characters protagonist heroine figure figures "
    # Trades and roles a prompt names its person by ("a sculptor chisels marble").
    "sculptor sculptors writer writers poet poets scientist scientists engineer engineers vendor "
    "vendors fisherman fishermen sailor sailors monk monks nun nuns priest priests samurai ninja "
    "cowboy cowboys explorer explorers baker bakers barista blacksmith carpenter "
    "mechanic firefighter firefighters policeman policewoman detective scholar emperor "
    "empress lawyer waiter waitress bartender gardener "
    "businessmen skater skaters"
).split()

# Words about the framing or the medium rather than the subject, and the request around it: a
# model that turns "In a still frame, a stop sign" into "A red stop sign stands on a quiet
# street", or "Please draw a castle" into "A castle on a hill", has kept the subject.
FRAMING = frozenset(
    "still frame photo photograph picture image shot view style footage video hd close up closeup "
    "tableau scene colored coloured please draw generate generating create make render show depict "
    "depicts depicting illustrate imagine".split()
)

# Judging words say how the user feels about the picture, not what is in it.
JUDGING = frozenset(
    "beautiful nice cool amazing stunning gorgeous lovely pretty handsome cute awesome great good "
    "wonderful fantastic epic perfect incredible breathtaking magnificent spectacular excellent fine "
    "best".split()
)

# Function words beyond the stopwords of `subject.content_words` that no description has to
# repeat (places such as "left", "under" or "behind" are kept: "on the left of" says where).
FUNCTION = frozenset(
    "while near up down out there here has have had who which where through across around during "
    "after before against along among upon within without off like than then so just also not "
    "can will would could should may might do does did one he she his her him they them their "
    "we our you your my i me it its made make wear wearing wears being using take taking get gets go "
    "going come set put keep feature featuring write writes written say says saying start starts begin "
    "begins continue continues".split()
)

# Words of the same meaning for what prompts most often say other than things: how a capable
# model rewords a verb or an adjective ("glides" for "soaring", "towering" for "tall"). Lemmas.
SAME_MEANING = (
    "soar fly glide hover float", "swim glide", "drink sip", "walk stroll wander amble", "run sprint dash race", "jump leap hop",
    "sit perch seated", "look gaze stare peer", "sleep nap doze asleep slumber", "dance twirl",
    "shine glow gleam glisten shimmer sparkle", "float drift bob", "smile grin", "laugh giggle",
    "cry weep", "hold grasp grip clutch carry", "fight battle spar", "wear clad don dressed",
    "burn blaze flame fire", "speed fast quick rapid swift speeding", "slow leisurely",
    "big large huge giant enormous massive gigantic vast", "small tiny little miniature",
    "old ancient aged vintage antique weathered elderly", "happy joyful cheerful glad delighted",
    "sad melancholy sorrowful gloomy", "calm tranquil serene peaceful placid quiet",
    "cozy cosy snug comfy comfortable", "dark dim shadowy", "bright vivid brilliant radiant",
    "colorful colourful vibrant multicolored", "tall towering lofty",
    "wet damp soaked drenched", "misty foggy hazy mist fog haze", "stormy storm",
    "snowy snow snowstorm snowfall blizzard", "sunny sunlit sunshine", "sunset dusk twilight",
    "sunrise dawn daybreak", "intense intensely fierce fiercely", "two pair couple twin both",
    "under below beneath underneath", "above atop over", "beside next alongside",
)

# The things, colours and actions Chinese prompts most often name, with English words that carry
# them (judged like any prompt word: "puppy" carries "dog", "eagle" carries "bird"). Enough to
# tell an answer about the prompt from one about something else; not a translator.
CHINESE_WORDS = {
    "小狗": "dog", "狗": "dog", "小猫": "cat", "猫": "cat", "鸟": "bird", "鱼": "fish", "马": "horse",
    "牛": "cow", "羊": "sheep", "猪": "pig", "熊猫": "panda", "熊": "bear", "老虎": "tiger", "狮子": "lion",
    "兔": "rabbit", "鸭": "duck", "鸡": "chicken", "龙": "dragon", "蝴蝶": "butterfly", "大象": "elephant",
    "男人": "man", "女人": "woman", "女孩": "girl", "男孩": "boy", "孩子": "child", "美人": "woman",
    "老人": "person", "人": "person",
    "自行车": "bicycle", "汽车": "car", "火车": "train", "飞机": "airplane", "船": "boat",
    "草地": "grass", "草": "grass", "花": "flower", "树": "tree", "森林": "forest", "山": "mountain",
    "河": "river", "湖": "lake", "海滩": "beach", "海": "sea", "雪": "snow", "雨": "rain", "天空": "sky",
    "太阳": "sun", "月亮": "moon", "城市": "city", "街": "street", "房子": "house", "桥": "bridge",
    "红": "red", "蓝": "blue", "绿": "green", "黄": "yellow", "白": "white", "黑": "black",
    "奔跑": "run", "跑": "run", "骑": "ride", "走": "walk", "飞": "fly", "游泳": "swim", "跳舞": "dance",
    "跳": "jump", "吃": "eat", "喝": "drink", "坐": "sit", "站": "stand", "睡": "sleep", "唱": "sing",
}
